/**
 * Token classes: the disjoint parts a vendor bills at different rates. Usage carries two totals
 * (prompt, completion) and, inside them, the finer counts providers report; this splits the totals so
 * that every token is in exactly one class.
 */
import type { Usage } from '../usage.ts';

export const INPUT_CLASSES = ['input', 'cache_read', 'cache_write_5m', 'cache_write_1h', 'audio_input', 'image_input'] as const;
export const OUTPUT_CLASSES = ['output', 'reasoning', 'audio_output', 'image_output'] as const;
export const TOKEN_CLASSES = [...INPUT_CLASSES, ...OUTPUT_CLASSES] as const;

export type InputClass = (typeof INPUT_CLASSES)[number];
export type OutputClass = (typeof OUTPUT_CLASSES)[number];
export type TokenClass = (typeof TOKEN_CLASSES)[number];

export type ClassCounts = Record<TokenClass, number>;

/**
 * The usage split into classes. The finer counts are taken as reported, in a fixed order, each at
 * most what is left of its total (a provider that reports more cached tokens than prompt tokens
 * cannot make a class negative); what remains is plain input / output. The classes always sum to
 * prompt_tokens + completion_tokens.
 */
export function tokenClasses(usage: Usage, embeddings = false): ClassCounts {
  const counts = {} as ClassCounts;
  let input = usage.prompt_tokens;
  for (const [cls, n] of [
    ['cache_read', usage.cached_tokens],
    ['cache_write_5m', usage.cache_write_5m_tokens],
    ['cache_write_1h', usage.cache_write_1h_tokens],
    ['audio_input', usage.audio_input_tokens],
    ['image_input', usage.image_input_tokens],
  ] as const) {
    counts[cls] = Math.min(n ?? 0, input);
    input -= counts[cls];
  }
  counts.input = input;
  let output = embeddings ? 0 : usage.completion_tokens;
  for (const [cls, n] of [
    ['reasoning', usage.reasoning_tokens],
    ['audio_output', usage.audio_output_tokens],
    ['image_output', usage.image_output_tokens],
  ] as const) {
    counts[cls] = Math.min(n ?? 0, output);
    output -= counts[cls];
  }
  counts.output = output;
  return counts;
}
