/**
 * Token classes: the disjoint parts a vendor bills at different rates. Usage carries two totals
 * (prompt, completion) and, inside them, the finer counts providers report; this splits the totals so
 * that every token is in exactly one class.
 */
import { tokenCount, type Usage } from '../usage.ts';

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
  // Straight-line on purpose: this runs on every charge. Every count is made whole (tokenCount:
  // fractions round up, anything not a count is 0), whatever built the Usage.
  let input = tokenCount(usage.prompt_tokens);
  const cache_read = Math.min(tokenCount(usage.cached_tokens), input);
  input -= cache_read;
  const cache_write_5m = Math.min(tokenCount(usage.cache_write_5m_tokens), input);
  input -= cache_write_5m;
  const cache_write_1h = Math.min(tokenCount(usage.cache_write_1h_tokens), input);
  input -= cache_write_1h;
  const audio_input = Math.min(tokenCount(usage.audio_input_tokens), input);
  input -= audio_input;
  const image_input = Math.min(tokenCount(usage.image_input_tokens), input);
  input -= image_input;
  let output = embeddings ? 0 : tokenCount(usage.completion_tokens);
  const reasoning = Math.min(tokenCount(usage.reasoning_tokens), output);
  output -= reasoning;
  const audio_output = Math.min(tokenCount(usage.audio_output_tokens), output);
  output -= audio_output;
  const image_output = Math.min(tokenCount(usage.image_output_tokens), output);
  output -= image_output;
  return { input, cache_read, cache_write_5m, cache_write_1h, audio_input, image_input, output, reasoning, audio_output, image_output };
}
