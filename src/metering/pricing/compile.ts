/**
 * A model's catalog prices compiled once into exact integer rates, and checked: the loader refuses
 * what cannot be billed exactly (too many decimals, a tier without a base price, overlapping dates).
 *
 * Rates are pico-USD per unit: a token rate of P USD per 1M tokens is P × 10^6 pico-USD per token,
 * so at most 6 decimals per 1M; a unit price of P USD is P × 10^12 pico-USD, at most 12 decimals.
 */
import type { ClassRates, ContextTierPrices, ModelRecord, PriceSet, ServiceTierPrices } from '../../catalog/types.ts';
import { MARGIN_PERCENT, SCALE } from '../credits.ts';
import { INPUT_CLASSES, TOKEN_CLASSES, type TokenClass } from './classes.ts';
import { scaledDecimal, unscaledText } from './decimal.ts';

export type Rates = Record<TokenClass, bigint>;

export interface RateSet {
  /** `<model>@<base|effective_from>[/<service tier>][><threshold>]`: names this set in a charge's stamp. */
  id: string;
  rates: Rates;
  /** pico-credits per token (rate × 1.05 × 1000), ready for the charge; as a Number too (exact below 2^53). */
  credits: Rates;
  creditsNumber: Record<TokenClass, number>;
  /** Each rate as the catalog wrote it (USD per 1M tokens), for the stamp. */
  texts: Record<TokenClass, string>;
}

/** A service tier's rates with its context tiers, highest threshold first. */
export interface TieredRates {
  base: RateSet;
  contextTiers: { above: number; set: RateSet }[];
}

export interface PricePeriod {
  /** Epoch ms the period starts; -Infinity for the model's own fields. */
  from: number;
  /** `base` or the price change's effective_from, as written. */
  name: string;
  /** Token rates, or null when the set has no input/output price (tokens meter 0). */
  standard: TieredRates | null;
  serviceTiers: ReadonlyMap<string, TieredRates>;
  /** pico-USD per unit, and its text (USD per unit). */
  units: ReadonlyMap<string, UnitPrice>;
}

export interface UnitPrice {
  /** pico-USD per unit. */
  rate: bigint;
  /** pico-credits per unit. */
  credits: bigint;
  /** USD per unit, as written. */
  text: string;
}

/** pico-USD → pico-credits, exact: × 105/100 × 1000. */
export function picoCreditsOf(picoUsd: bigint): bigint {
  return (picoUsd * MARGIN_PERCENT * SCALE) / 100n;
}

export interface ModelPrices {
  modelId: string;
  /** Oldest first. */
  periods: PricePeriod[];
}

const CLASS_FIELD: Record<Exclude<TokenClass, 'input' | 'output'>, keyof ClassRates> = {
  cache_read: 'cache_read_usd_per_1m',
  cache_write_5m: 'cache_write_5m_usd_per_1m',
  cache_write_1h: 'cache_write_1h_usd_per_1m',
  reasoning: 'reasoning_usd_per_1m',
  audio_input: 'audio_input_usd_per_1m',
  audio_output: 'audio_output_usd_per_1m',
  image_input: 'image_input_usd_per_1m',
  image_output: 'image_output_usd_per_1m',
};

const INPUT_SET: ReadonlySet<TokenClass> = new Set(INPUT_CLASSES);

class PriceProblems {
  readonly list: string[] = [];
  add(where: string, message: string): void {
    this.list.push(where ? `${where}: ${message}` : message);
  }
}

/** USD per 1M tokens → pico-USD per token (exact), or a problem. */
function tokenRate(price: number, where: string, problems: PriceProblems): bigint {
  const rate = scaledDecimal(price, 6);
  if (rate === null) problems.add(where, 'a price in USD per 1M tokens is a number ≥ 0 with at most 6 decimals');
  return rate ?? 0n;
}

function rateSet(prices: ClassRates & { input_usd_per_1m: number; output_usd_per_1m: number }, id: string, where: string, problems: PriceProblems): RateSet {
  const input = tokenRate(prices.input_usd_per_1m, `${where}input_usd_per_1m`, problems);
  const output = tokenRate(prices.output_usd_per_1m, `${where}output_usd_per_1m`, problems);
  const rates = {} as Rates;
  for (const cls of TOKEN_CLASSES) {
    if (cls === 'input' || cls === 'output') continue;
    const field = CLASS_FIELD[cls];
    const price = prices[field];
    rates[cls] = price === undefined ? (INPUT_SET.has(cls) ? input : output) : tokenRate(price, `${where}${field}`, problems);
  }
  rates.input = input;
  rates.output = output;
  const texts = {} as Record<TokenClass, string>;
  const credits = {} as Rates;
  const creditsNumber = {} as Record<TokenClass, number>;
  for (const cls of TOKEN_CLASSES) {
    texts[cls] = unscaledText(rates[cls], 6);
    credits[cls] = picoCreditsOf(rates[cls]);
    // NaN when not exact as a Number: the charge then takes the BigInt path.
    creditsNumber[cls] = credits[cls] <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(credits[cls]) : Number.NaN;
  }
  return { id, rates, credits, creditsNumber, texts };
}

function tiered(
  prices: ServiceTierPrices | (PriceSet & { input_usd_per_1m: number; output_usd_per_1m: number }),
  id: string,
  where: string,
  problems: PriceProblems,
): TieredRates {
  const base = rateSet(prices, id, where, problems);
  const seen = new Set<number>();
  const contextTiers = (prices.context_tiers ?? []).map((tier: ContextTierPrices, i) => {
    const at = `${where}context_tiers[${i}].`;
    if (seen.has(tier.above_input_tokens)) problems.add(at, `two context tiers above ${tier.above_input_tokens} input tokens`);
    seen.add(tier.above_input_tokens);
    return { above: tier.above_input_tokens, set: rateSet(tier, `${id}>${tier.above_input_tokens}`, at, problems) };
  });
  contextTiers.sort((a, b) => b.above - a.above);
  return { base, contextTiers };
}

function period(modelId: string, prices: PriceSet, from: number, name: string, where: string, problems: PriceProblems): PricePeriod {
  const { input_usd_per_1m: input, output_usd_per_1m: output } = prices;
  const priced = input !== null && input !== undefined && output !== null && output !== undefined;
  if ((input === null) !== (output === null)) problems.add(where, 'input_usd_per_1m and output_usd_per_1m are both prices or both null');
  const hasTiers = (prices.context_tiers?.length ?? 0) > 0 || Object.keys(prices.service_tiers ?? {}).length > 0;
  if (!priced && hasTiers) problems.add(where, 'context or service tiers need the base input_usd_per_1m and output_usd_per_1m prices');
  const id = `${modelId}@${name}`;
  const standard = priced ? tiered({ ...prices, input_usd_per_1m: input, output_usd_per_1m: output }, id, where, problems) : null;
  const serviceTiers = new Map<string, TieredRates>();
  if (priced) {
    for (const [tier, tierPrices] of Object.entries(prices.service_tiers ?? {})) {
      serviceTiers.set(tier, tiered(tierPrices, `${id}/${tier}`, `${where}service_tiers.${tier}.`, problems));
    }
  }
  const units = new Map<string, UnitPrice>();
  for (const [unit, price] of Object.entries(prices.unit_prices ?? {})) {
    const rate = scaledDecimal(price, 12);
    if (rate === null) problems.add(`${where}unit_prices.${unit}`, 'a unit price in USD is a number ≥ 0 with at most 12 decimals');
    units.set(unit, { rate: rate ?? 0n, credits: picoCreditsOf(rate ?? 0n), text: unscaledText(rate ?? 0n, 12) });
  }
  return { from, name, standard, serviceTiers, units };
}

/** An effective_from as epoch ms: a date is its UTC midnight. */
function effectiveFrom(text: string): number {
  return Date.parse(/^\d{4}-\d{2}-\d{2}$/.test(text) ? `${text}T00:00:00Z` : text);
}

export function compilePrices(model: ModelRecord): { prices: ModelPrices; problems: string[] } {
  const problems = new PriceProblems();
  const periods = [period(model.model_id, model, -Infinity, 'base', '', problems)];
  let last = -Infinity;
  (model.price_changes ?? []).forEach((change, i) => {
    const from = effectiveFrom(change.effective_from);
    const where = `price_changes[${i}].`;
    if (Number.isNaN(from)) problems.add(`${where}effective_from`, `'${change.effective_from}' is not a date (YYYY-MM-DD) or an ISO date-time`);
    else if (from <= last) problems.add(`${where}effective_from`, 'price changes are listed in time order, each strictly after the one before (dates may not overlap)');
    else last = from;
    periods.push(period(model.model_id, change, from, change.effective_from, where, problems));
  });
  return { prices: { modelId: model.model_id, periods }, problems: problems.list };
}

const compiled = new WeakMap<ModelRecord, ModelPrices>();

/** The model's compiled prices (compiled on first use; catalog records are immutable). */
export function pricesOf(model: ModelRecord): ModelPrices {
  let prices = compiled.get(model);
  if (!prices) {
    prices = compilePrices(model).prices;
    compiled.set(model, prices);
  }
  return prices;
}

/** The period in force at `at` (epoch ms). */
export function periodAt(prices: ModelPrices, at: number): PricePeriod {
  let found = prices.periods[0]!;
  for (const p of prices.periods) if (p.from <= at) found = p;
  return found;
}

/** The service tier's rates as served (a standard or unpriced tier name falls back to the standard rates). */
export function tierRates(p: PricePeriod, serviceTier: string | undefined): TieredRates | null {
  return (serviceTier === undefined ? undefined : p.serviceTiers.get(serviceTier)) ?? p.standard;
}

/** The set that prices a request with `inputTokens` input tokens (cache included): strict `>`. */
export function contextRates(tiered: TieredRates, inputTokens: number): RateSet {
  for (const t of tiered.contextTiers) if (inputTokens > t.above) return t.set;
  return tiered.base;
}
