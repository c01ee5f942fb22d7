/**
 * Gemini usageMetadata → Usage. Thinking tokens (thoughtsTokenCount) are not part of
 * candidatesTokenCount and are billed as output; tool-use prompt tokens (grounding and URL-context
 * results fed back to the model) are billed as input.
 */
import { reported, type Usage } from '../../metering/usage.ts';
import type { GeminiUsageMetadata } from './wire.ts';

export function usageFromGemini(meta: GeminiUsageMetadata | undefined | null): Usage | null {
  // Vertex streams send `usageMetadata: {trafficType}` without counts until the last chunk.
  if (!meta || typeof meta.promptTokenCount !== 'number') return null;
  const thoughts = meta.thoughtsTokenCount ?? 0;
  return reported(
    meta.promptTokenCount + (meta.toolUsePromptTokenCount ?? 0),
    (meta.candidatesTokenCount ?? 0) + thoughts,
    meta.cachedContentTokenCount ?? 0,
    thoughts,
  );
}
