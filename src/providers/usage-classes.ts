/**
 * One builder for every provider's usage parser: the two totals and, inside them, the finer counts a
 * vendor reports (cache reads and writes, reasoning, audio and image), the tier it served and the
 * non-token units. Each parser says what its vendor's fields mean; this makes the result whole and
 * disjoint whatever the wire sent.
 */
import { tokenCount, type Usage } from '../metering/usage.ts';

export interface UsageParts {
  /** Every input token the vendor bills, cache reads and writes included. */
  prompt: number;
  /** Every output token the vendor bills, reasoning and audio/image output included. */
  completion: number;
  cacheRead?: number;
  cacheWrite5m?: number;
  cacheWrite1h?: number;
  /** Uncached audio / image input (a cached one is already a cache read). */
  audioInput?: number;
  imageInput?: number;
  reasoning?: number;
  audioOutput?: number;
  imageOutput?: number;
  serviceTier?: unknown;
  units?: Record<string, number>;
}

/**
 * A reported Usage from counts already made whole (tokenCount). A finer count is kept at most what
 * is left of its total, in a fixed order (input: cache read, cache write 5m, 1h, audio, image;
 * output: reasoning, audio, image), so the plain input and output that remain are never negative
 * and every token is in exactly one class even when an upstream reports more cached tokens than it
 * had prompt. Zero counts, zero units and a tier that is not a short string are left out.
 */
export function usageFromParts(parts: UsageParts): Usage {
  const prompt = tokenCount(parts.prompt);
  const completion = tokenCount(parts.completion);
  let input = prompt;
  let output = completion;
  const take = (n: number | undefined, side: 'in' | 'out'): number => {
    const left = side === 'in' ? input : output;
    const got = Math.min(tokenCount(n), left);
    if (side === 'in') input -= got;
    else output -= got;
    return got;
  };
  const usage: Usage = {
    prompt_tokens: prompt,
    completion_tokens: completion,
    cached_tokens: take(parts.cacheRead, 'in'),
    reasoning_tokens: take(parts.reasoning, 'out'),
    source: 'reported',
  };
  const optional: Array<[keyof Usage, number]> = [
    ['cache_write_5m_tokens', take(parts.cacheWrite5m, 'in')],
    ['cache_write_1h_tokens', take(parts.cacheWrite1h, 'in')],
    ['audio_input_tokens', take(parts.audioInput, 'in')],
    ['image_input_tokens', take(parts.imageInput, 'in')],
    ['audio_output_tokens', take(parts.audioOutput, 'out')],
    ['image_output_tokens', take(parts.imageOutput, 'out')],
  ];
  for (const [key, n] of optional) if (n > 0) (usage as unknown as Record<string, number>)[key] = n;
  const tier = serviceTier(parts.serviceTier);
  if (tier !== null) usage.service_tier = tier;
  const units = wholeUnits(parts.units);
  if (units !== null) usage.units = units;
  return usage;
}

/** A served tier as the vendor spelled it, if it looks like one (a hostile upstream sends anything). */
export function serviceTier(value: unknown): string | null {
  if (typeof value !== 'string') return null;
  const tier = value.trim();
  return tier.length > 0 && tier.length <= 64 && /^[\w.:-]+$/.test(tier) ? tier : null;
}

function wholeUnits(units: Record<string, number> | undefined): Record<string, number> | null {
  if (!units) return null;
  const out: Record<string, number> = {};
  for (const [name, n] of Object.entries(units)) {
    const count = tokenCount(n);
    if (count > 0) out[name] = count;
  }
  return Object.keys(out).length > 0 ? out : null;
}

/** The sum of `key` over the entries of a list whose `match` field is `value` (modality lists and the like). */
export function sumWhere(list: unknown, match: string, value: string, key: string): number {
  if (!Array.isArray(list)) return 0;
  let sum = 0;
  for (const item of list) {
    if (typeof item === 'object' && item !== null && (item as Record<string, unknown>)[match] === value) {
      sum += tokenCount((item as Record<string, unknown>)[key]);
    }
  }
  return Math.min(sum, Number.MAX_SAFE_INTEGER);
}
