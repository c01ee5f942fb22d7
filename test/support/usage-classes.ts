/**
 * The disjoint token classes a Usage implies, written in the tests from the rule (README "Money"),
 * not taken from src/: input classes out of prompt_tokens, output classes out of completion_tokens.
 */
import type { Usage } from '../../src/metering/usage.ts';

export type ClassName =
  | 'input' | 'cache_read' | 'cache_write_5m' | 'cache_write_1h' | 'audio_input' | 'image_input'
  | 'output' | 'reasoning' | 'audio_output' | 'image_output';

export function classesOf(u: Usage): Record<ClassName, number> {
  return {
    input: u.prompt_tokens - u.cached_tokens - (u.cache_write_5m_tokens ?? 0) - (u.cache_write_1h_tokens ?? 0) - (u.audio_input_tokens ?? 0) - (u.image_input_tokens ?? 0),
    cache_read: u.cached_tokens,
    cache_write_5m: u.cache_write_5m_tokens ?? 0,
    cache_write_1h: u.cache_write_1h_tokens ?? 0,
    audio_input: u.audio_input_tokens ?? 0,
    image_input: u.image_input_tokens ?? 0,
    output: u.completion_tokens - u.reasoning_tokens - (u.audio_output_tokens ?? 0) - (u.image_output_tokens ?? 0),
    reasoning: u.reasoning_tokens,
    audio_output: u.audio_output_tokens ?? 0,
    image_output: u.image_output_tokens ?? 0,
  };
}
