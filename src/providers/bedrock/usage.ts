/**
 * Bedrock usage → Usage. Converse reports `inputTokens` without the prompt-cache tokens (recordings:
 * amazon-bedrock-*.json carry cacheRead/cacheWrite beside inputTokens), so the billed input is the sum
 * of the three; output includes reasoning (Bedrock does not split it out). Writes are split by TTL in
 * `cacheDetails` ([{ttl: "5m" | "1h", inputTokens}]); a write it does not place is a 5-minute one.
 */
import { tokenCount, type Usage } from '../../metering/usage.ts';
import { usageFromAnthropic } from '../anthropic/usage.ts';
import { sumWhere, usageFromParts } from '../usage-classes.ts';

interface ConverseUsage {
  inputTokens?: unknown;
  outputTokens?: unknown;
  cacheReadInputTokens?: unknown;
  cacheWriteInputTokens?: unknown;
  /** Older spellings, still sent beside the new ones (amazon-bedrock-text.json). */
  cacheReadInputTokenCount?: unknown;
  cacheWriteInputTokenCount?: unknown;
  cacheDetails?: unknown;
}

export function usageFromConverse(value: unknown): Usage | null {
  if (typeof value !== 'object' || value === null) return null;
  const u = value as ConverseUsage;
  if (typeof u.inputTokens !== 'number') return null;
  const details1h = sumWhere(u.cacheDetails, 'ttl', '1h', 'inputTokens');
  const detailsAll = tokenCount(details1h + sumWhere(u.cacheDetails, 'ttl', '5m', 'inputTokens'));
  const writeTotal = u.cacheWriteInputTokens ?? u.cacheWriteInputTokenCount;
  return fromCounts(u.inputTokens, u.outputTokens, u.cacheReadInputTokens ?? u.cacheReadInputTokenCount, writeTotal == null ? detailsAll : writeTotal, details1h);
}

/**
 * Usage of a non-Converse (InvokeModel) body seen on the passthrough: Claude's own Messages body
 * (its `usage`), Titan embeddings counting their input, and InvokeModelWithResponseStream's last
 * chunk carrying `amazon-bedrock-invocationMetrics`, whose inputTokenCount leaves out the cache
 * reads and writes it counts beside it, as Converse does.
 */
export function usageFromInvoke(body: Record<string, unknown>): Usage | null {
  const metrics = body['amazon-bedrock-invocationMetrics'] as
    | { inputTokenCount?: unknown; outputTokenCount?: unknown; cacheReadInputTokenCount?: unknown; cacheWriteInputTokenCount?: unknown }
    | undefined;
  if (typeof metrics?.inputTokenCount === 'number') {
    return fromCounts(metrics.inputTokenCount, metrics.outputTokenCount, metrics.cacheReadInputTokenCount, metrics.cacheWriteInputTokenCount, 0);
  }
  if (typeof body.inputTextTokenCount === 'number') return fromCounts(body.inputTextTokenCount, 0, 0, 0, 0);
  return body.type === 'message' ? usageFromAnthropic(body.usage) : null;
}

function fromCounts(input: unknown, output: unknown, cacheRead: unknown, cacheWrite: unknown, write1hSplit: number): Usage {
  const read = tokenCount(cacheRead);
  const writes = tokenCount(cacheWrite);
  const write1h = Math.min(write1hSplit, writes);
  return usageFromParts({
    prompt: tokenCount(tokenCount(input) + read + writes),
    completion: tokenCount(output),
    cacheRead: read,
    cacheWrite5m: writes - write1h,
    cacheWrite1h: write1h,
  });
}
