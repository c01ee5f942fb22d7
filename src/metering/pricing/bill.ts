/**
 * One exchange's bill: its usage split into classes and units, each priced at the rate in force when
 * the request started, for the service tier the provider served and the context tier its input
 * reached; plus the run credit. Every amount is an exact integer of pico-credits, and the bill's
 * stamp carries everything needed to re-derive it (ledger rebill).
 *
 *   credits = RUN_CREDIT + Σ_class tokens × rate_class / 1e6 × MARGIN × SCALE + Σ_unit count × price_unit × MARGIN × SCALE
 *
 * A rate in pico-USD per token or unit makes a class's pico-credits = count × rate × 105 × 1000 / 100.
 */
import type { ModelRecord, Operation } from '../../catalog/types.ts';
import { formatCredits, MARGIN_PERCENT, PICO_PER_CREDIT, RUN_CREDIT, SCALE } from '../credits.ts';
import type { Usage } from '../usage.ts';
import { catalogVersionOf } from './catalog-version.ts';
import { TOKEN_CLASSES, tokenClasses, type TokenClass } from './classes.ts';
import { contextRates, periodAt, pricesOf, tierRates } from './compile.ts';
import { unscaledText } from './decimal.ts';

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
  operation: Operation;
  /** The provider processed tokens: the exchange has usage, whatever its status. */
  served: boolean;
  /** When the request started (epoch ms): the price in force then applies. */
  at: number;
}

const TOKEN_CLASS_SET: ReadonlySet<string> = new Set(TOKEN_CLASSES);

/** pico-USD → pico-credits, exact: × 105/100 × 1000. */
export function picoCreditsOf(picoUsd: bigint): bigint {
  return (picoUsd * MARGIN_PERCENT * SCALE) / 100n;
}

/** The rate text of a class (USD per 1M tokens) or unit (USD per unit). */
export function rateText(name: string, picoUsdPerUnit: bigint): string {
  return TOKEN_CLASS_SET.has(name) ? unscaledText(picoUsdPerUnit, 6) : unscaledText(picoUsdPerUnit, 12);
}

/** The unit price that applies to a unit name: itself, else its prefixes (`image:1024x1024:hd` → `image:1024x1024` → `image`). */
export function unitPriceKey(units: ReadonlyMap<string, bigint>, unit: string): string | null {
  for (let key = unit; ; key = key.slice(0, key.lastIndexOf(':'))) {
    if (units.has(key)) return key;
    if (!key.includes(':')) return null;
  }
}

export function charge({ usage, model, billing, operation, served, at }: ChargeInput): Charge {
  if (!served || usage === null) return { pico: 0n, unpriced: false, bill: null };
  const classes = tokenClasses(usage, operation === 'embeddings');
  const unitCounts = Object.entries(usage.units ?? {}).filter(([, n]) => n > 0);
  const tokens = TOKEN_CLASSES.reduce((sum, cls) => sum + classes[cls], 0);
  // A call that consumed nothing (a model list, a token count) is not a run: it costs nothing.
  if (tokens === 0 && unitCounts.length === 0) return { pico: 0n, unpriced: false, bill: null };

  const period = model ? periodAt(pricesOf(model), at) : null;
  const tiered = period ? tierRates(period, usage.service_tier) : null;
  const set = tiered ? contextRates(tiered, usage.prompt_tokens) : null;
  let unpriced = (set === null && tokens > 0) || model === null;

  const stamp: BillStamp = {
    catalog: model ? catalogVersionOf(model) : 'none',
    rate: `${model?.model_id ?? 'unknown'}@${set && period ? `${period.name}${set.label}` : 'unpriced'}`,
    ...(usage.service_tier === undefined ? {} : { service_tier: usage.service_tier }),
    usage: {},
    rates: {},
    credits: { run: formatCredits(RUN_CREDIT * PICO_PER_CREDIT) },
  };
  const lines = new Map<string, { count: number; rate: bigint | null }>();
  const put = (name: string, count: number, rate: bigint | null): void => {
    const line = lines.get(name);
    if (line) line.count += count;
    else lines.set(name, { count, rate });
  };
  for (const cls of TOKEN_CLASSES) if (classes[cls] > 0) put(cls, classes[cls], set ? set.rates[cls as TokenClass] : null);
  for (const [unit, count] of unitCounts) {
    const key = period ? unitPriceKey(period.units, unit) : null;
    if (key === null) unpriced = true;
    put(key ?? unit, count, key === null ? null : period!.units.get(key)!);
  }
  let pico = RUN_CREDIT * PICO_PER_CREDIT;
  for (const [name, { count, rate }] of lines) {
    stamp.usage[name] = count;
    if (rate === null) continue;
    const part = picoCreditsOf(BigInt(count) * rate);
    stamp.rates[name] = rateText(name, rate);
    stamp.credits[name] = formatCredits(part);
    pico += part;
  }
  if (billing === 'byok') return { pico: 0n, unpriced, bill: null };
  return { pico, unpriced, bill: stamp };
}
