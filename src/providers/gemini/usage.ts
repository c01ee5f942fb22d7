/**
 * Gemini usageMetadata → Usage. promptTokenCount includes the cached tokens
 * (cachedContentTokenCount); tool-use prompt tokens (grounding and URL-context results fed back to
 * the model) are billed as input beside it; thinking tokens (thoughtsTokenCount) are not part of
 * candidatesTokenCount and are billed as output (google-text.json: 9 + 28 + 244 = totalTokenCount).
 * Audio and image are priced apart: their counts come from the per-modality lists
 * (promptTokensDetails, toolUsePromptTokensDetails, candidatesTokensDetails), less the cached share
 * of each modality (cacheTokensDetails), which is already a cache read. Vertex's trafficType says
 * whether Priority or Flex PayGo served the request.
 */
import { tokenCount, type Usage } from '../../metering/usage.ts';
import { sumWhere, usageFromParts } from '../usage-classes.ts';
import type { GeminiUsageMetadata } from './wire.ts';

interface Metadata extends GeminiUsageMetadata {
  promptTokensDetails?: unknown;
  cacheTokensDetails?: unknown;
  toolUsePromptTokensDetails?: unknown;
  candidatesTokensDetails?: unknown;
  trafficType?: unknown;
}

/** Vertex trafficType → the tier names the catalog prices; pay-as-you-go (ON_DEMAND) is the base. */
const TRAFFIC_TIERS: Record<string, string> = {
  ON_DEMAND_PRIORITY: 'priority',
  ON_DEMAND_FLEX: 'flex',
  PROVISIONED_THROUGHPUT: 'provisioned_throughput',
};

export function usageFromGemini(meta: GeminiUsageMetadata | undefined | null): Usage | null {
  // Vertex streams send `usageMetadata: {trafficType}` without counts until the last chunk.
  if (!meta || typeof meta.promptTokenCount !== 'number') return null;
  const m = meta as Metadata;
  const thoughts = tokenCount(m.thoughtsTokenCount);
  const inputOf = (modality: string): number =>
    Math.max(0, sumWhere(m.promptTokensDetails, 'modality', modality, 'tokenCount') + sumWhere(m.toolUsePromptTokensDetails, 'modality', modality, 'tokenCount') - sumWhere(m.cacheTokensDetails, 'modality', modality, 'tokenCount'));
  return usageFromParts({
    prompt: tokenCount(tokenCount(m.promptTokenCount) + tokenCount(m.toolUsePromptTokenCount)),
    completion: tokenCount(tokenCount(m.candidatesTokenCount) + thoughts),
    cacheRead: tokenCount(m.cachedContentTokenCount),
    audioInput: inputOf('AUDIO'),
    imageInput: inputOf('IMAGE'),
    reasoning: thoughts,
    audioOutput: sumWhere(m.candidatesTokensDetails, 'modality', 'AUDIO', 'tokenCount'),
    imageOutput: sumWhere(m.candidatesTokensDetails, 'modality', 'IMAGE', 'tokenCount'),
    serviceTier: typeof m.trafficType === 'string' ? TRAFFIC_TIERS[m.trafficType] : undefined,
  });
}
