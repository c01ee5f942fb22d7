/**
 * Credits, exactly as the seed fixes them:
 *   credits = RUN_CREDIT + (prompt × input_usd_per_1m + completion × output_usd_per_1m) / 1e6 × MARGIN × SCALE
 * with RUN_CREDIT = 1 per run or chat turn, MARGIN = 1.05 and SCALE = 1000 (1000 credits = 1 USD).
 *
 * Representation: integer pico-credits (1 credit = 10^12) in BigInt. Catalog prices have at most
 * 6 decimals (whole micro-USD per 1M tokens, checked when the catalog loads), so
 *   pico = (prompt × inMicro + completion × outMicro) × 105 × 10
 * is an integer: no rounding happens anywhere, and sums of charges are exact.
 */
import type { ModelRecord, Operation } from '../catalog/types.ts';
import type { Usage } from './usage.ts';

export const RUN_CREDIT = 1n;
export const MARGIN_PERCENT = 105n;
export const SCALE = 1000n;
export const PICO_PER_CREDIT = 10n ** 12n;

/** A price in USD per 1M tokens → integer micro-USD per 1M tokens. */
export function microUsd(price: number): bigint {
  return BigInt(Math.round(price * 1e6));
}

/** Token part of the formula, in pico-credits. */
export function tokenPicoCredits(prompt: number, completion: number, inputMicro: bigint, outputMicro: bigint): bigint {
  // (tokens × micro / 1e6 / 1e6) USD × 105/100 × SCALE credits × 1e12 pico = tokens × micro × 105 × SCALE / 100
  return ((BigInt(prompt) * inputMicro + BigInt(completion) * outputMicro) * MARGIN_PERCENT * SCALE) / 100n;
}

export interface Charge {
  pico: bigint;
  /** The model has no price: it metered 0 (never a fallback rate). */
  unpriced: boolean;
}

export interface ChargeInput {
  usage: Usage | null;
  model: ModelRecord | null;
  billing: 'managed' | 'byok';
  operation: Operation;
  /**
   * The provider processed tokens: the exchange has usage (reported or estimated, see
   * usage.ts billedUsage), whatever its status. Failures before any token cost nothing.
   */
  served: boolean;
}

export function charge({ usage, model, billing, operation, served }: ChargeInput): Charge {
  const unpriced = model === null || model.input_usd_per_1m === null || model.output_usd_per_1m === null;
  if (billing === 'byok' || !served || unpriced) return { pico: 0n, unpriced: unpriced && served };
  const prompt = usage?.prompt_tokens ?? 0;
  // Embedding calls force completion_tokens = 0.
  const completion = operation === 'embeddings' ? 0 : (usage?.completion_tokens ?? 0);
  // A call that consumed no tokens (a model list, a token count) is not a run: it costs nothing.
  if (prompt === 0 && completion === 0) return { pico: 0n, unpriced: false };
  const tokens = tokenPicoCredits(prompt, completion, microUsd(model.input_usd_per_1m!), microUsd(model.output_usd_per_1m!));
  return { pico: RUN_CREDIT * PICO_PER_CREDIT + tokens, unpriced: false };
}

/** Exact decimal text of a pico-credit amount ("1.00252", "0", "-3.5"). */
export function formatCredits(pico: bigint): string {
  const negative = pico < 0n;
  const abs = negative ? -pico : pico;
  const whole = abs / PICO_PER_CREDIT;
  const frac = (abs % PICO_PER_CREDIT).toString().padStart(12, '0').replace(/0+$/, '');
  return `${negative ? '-' : ''}${whole}${frac ? `.${frac}` : ''}`;
}

/** Parses the text formatCredits writes. */
export function parseCredits(text: string): bigint {
  const match = /^(-?)(\d+)(?:\.(\d{1,12}))?$/.exec(text);
  if (!match) throw new Error(`not a credit amount: ${text}`);
  const pico = BigInt(match[2]!) * PICO_PER_CREDIT + BigInt((match[3] ?? '').padEnd(12, '0') || '0');
  return match[1] ? -pico : pico;
}
