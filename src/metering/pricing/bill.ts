/**
 * One exchange's bill: its usage split into classes and units, each priced at the rate in force when
 * the request started, for the service tier the provider served and the context tier its input
 * reached; plus the run credit. Every amount is an exact integer of pico-credits, and the bill's
 * stamp carries everything needed to re-derive it (ledger rebill).
 *
 *   credits = RUN_CREDIT + Σ_class tokens × rate_class / 1e6 × MARGIN × SCALE + Σ_unit count × price_unit × MARGIN × SCALE
 *
 * A rate in pico-USD per token or unit makes a class's pico-credits = count × rate × 105 × 1000 / 100
 * (compile.ts keeps that per-token product ready).
 */
import type { ModelRecord } from '../../catalog/types.ts';
import type { MeteredOperation } from '../operation.ts';
import { formatCredits, formatPicoNumber, PICO_PER_CREDIT, RUN_CREDIT } from '../credits.ts';
import { tokenCount, type Usage } from '../usage.ts';
import { catalogVersionOf } from './catalog-version.ts';
import { TOKEN_CLASSES, tokenClasses, type TokenClass } from './classes.ts';
import { contextRates, periodAt, pricesOf, tierRates } from './compile.ts';

/** What a charge entry stamps: enough to recompute its credits without the catalog. */
export interface BillStamp {
  /** The catalog version (price fingerprint) that priced it. */
  catalog: string;
  /** `<model>@<base|effective_from>[/<service tier>][><context threshold>]`, or `<model>@unpriced`. */
  rate: string;
  /** The service tier the provider reported serving, when it reported one. */
  service_tier?: string;
  /** Tokens per class and count per unit (only those consumed). */
  usage: Record<string, number>;
  /** Rates used: USD per 1M tokens for a class, USD per unit for a unit. */
  rates: Record<string, string>;
  /** Credits per class and unit, and `run`. */
  credits: Record<string, string>;
}

export interface Charge {
  pico: bigint;
  /** Something consumed had no price: it metered 0 (never a fallback rate). The run credit still applies. */
  unpriced: boolean;
  /** Null when nothing is charged (BYOK, nothing served). */
  bill: BillStamp | null;
}

export interface ChargeInput {
  usage: Usage | null;
  model: ModelRecord | null;
  billing: 'managed' | 'byok';
  operation: MeteredOperation;
  /** The provider processed tokens: the exchange has usage, whatever its status. */
  served: boolean;
  /** When the request started (epoch ms): the price in force then applies. */
  at: number;
}

/** The unit price that applies to a unit name: itself, else its prefixes (`image:1024x1024:hd` → `image:1024x1024` → `image`). */
function unitPriceKey(units: ReadonlyMap<string, unknown>, unit: string): string | null {
  for (let key = unit; ; key = key.slice(0, key.lastIndexOf(':'))) {
    if (units.has(key)) return key;
    if (!key.includes(':')) return null;
  }
}

const RUN_PICO = RUN_CREDIT * PICO_PER_CREDIT;
const RUN_TEXT = formatCredits(RUN_PICO);
/**
 * The classes in sorted order, `run` among them: the stamp is built with every key in canonical
 * order, so the ledger writes it with JSON.stringify as it is (entry.ts isCanonical).
 */
const STAMP_ORDER = [...TOKEN_CLASSES, 'run'].sort() as ReadonlyArray<TokenClass | 'run'>;

function sortedCopy<T>(record: Record<string, T>): Record<string, T> {
  const sorted: Record<string, T> = {};
  for (const key of Object.keys(record).sort()) sorted[key] = record[key]!;
  return sorted;
}

/** Runs on every charge: plain loops and objects, rates and their texts compiled ahead (compile.ts). */
export function charge({ usage, model, billing, operation, served, at }: ChargeInput): Charge {
  if (!served || usage === null) return { pico: 0n, unpriced: false, bill: null };
  const classes = tokenClasses(usage, operation === 'embeddings');
  let tokens = 0;
  for (const cls of TOKEN_CLASSES) tokens += classes[cls];
  let unitCount = 0;
  for (const unit in usage.units) unitCount += tokenCount(usage.units[unit]) > 0 ? 1 : 0;
  // A call that consumed nothing (a model list, a token count) is not a run: it costs nothing.
  if (tokens === 0 && unitCount === 0) return { pico: 0n, unpriced: false, bill: null };

  const period = model ? periodAt(pricesOf(model), at) : null;
  const tiered = period ? tierRates(period, usage.service_tier) : null;
  const set = tiered ? contextRates(tiered, usage.prompt_tokens) : null;
  let unpriced = (set === null && tokens > 0) || model === null;
  if (billing === 'byok') {
    if (unitCount > 0 && set === null) for (const unit in usage.units) if (period === null || unitPriceKey(period.units, unit) === null) unpriced = true;
    return { pico: 0n, unpriced, bill: null };
  }

  let stampUsage: Record<string, number> = {};
  let rates: Record<string, string> = {};
  let credits: Record<string, string> = {};
  // Exact either way: Number arithmetic while every product and the sum stay below 2^53 (a
  // product of two integers that does not is never a safe integer), BigInt beyond.
  let small = 0;
  let pico = RUN_PICO;
  for (const cls of STAMP_ORDER) {
    if (cls === 'run') {
      credits.run = RUN_TEXT;
      continue;
    }
    const count = classes[cls];
    if (count === 0) continue;
    stampUsage[cls] = count;
    if (set === null) continue;
    rates[cls] = set.texts[cls];
    const part = count * set.creditsNumber[cls];
    if (Number.isSafeInteger(part) && Number.isSafeInteger(small + part)) {
      credits[cls] = formatPicoNumber(part);
      small += part;
    } else {
      const exact = BigInt(count) * set.credits[cls];
      credits[cls] = formatCredits(exact);
      pico += exact;
    }
  }
  pico += BigInt(small);
  if (unitCount > 0) {
    // Units named by different variants may share one price (`image:512x512` → `image`): summed per price.
    const byPrice: Record<string, number> = {};
    for (const unit in usage.units) {
      const count = tokenCount(usage.units[unit]);
      if (count === 0) continue;
      const key = period ? unitPriceKey(period.units, unit) : null;
      // A unit without a price on a model priced by its tokens (gpt-image reports its images and
      // their tokens) is recorded, not charged: the vendor bills the tokens. Otherwise it is unpriced.
      if (key === null && set === null) unpriced = true;
      byPrice[key ?? unit] = (byPrice[key ?? unit] ?? 0) + count;
    }
    for (const name in byPrice) {
      const count = byPrice[name]!;
      stampUsage[name] = count;
      const price = period?.units.get(name);
      if (price === undefined) continue;
      const part = BigInt(count) * price.credits;
      rates[name] = price.text;
      credits[name] = formatCredits(part);
      pico += part;
    }
    // Unit names fall anywhere among the classes: the three maps are put back in sorted order.
    stampUsage = sortedCopy(stampUsage);
    rates = sortedCopy(rates);
    credits = sortedCopy(credits);
  }
  // Members in sorted order (catalog, credits, rate, rates, service_tier, usage): canonical as built.
  const bill: BillStamp = {
    catalog: model ? catalogVersionOf(model) : 'none',
    credits,
    rate: set ? set.id : `${model?.model_id ?? 'unknown'}@unpriced`,
    rates,
    ...(usage.service_tier === undefined ? {} : { service_tier: usage.service_tier }),
    usage: stampUsage,
  };
  return { pico, unpriced, bill };
}
