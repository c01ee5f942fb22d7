/**
 * Bedrock usage → Usage. Converse reports `inputTokens` without the prompt-cache tokens (recordings:
 * amazon-bedrock-*.json carry cacheRead/cacheWrite beside inputTokens), so the billed input is the sum
 * of the three; output includes reasoning.
 */
import { reported, type Usage } from '../../metering/usage.ts';

interface ConverseUsage {
  inputTokens?: number;
  outputTokens?: number;
  cacheReadInputTokens?: number;
  cacheWriteInputTokens?: number;
}

export function usageFromConverse(value: unknown): Usage | null {
  if (typeof value !== 'object' || value === null) return null;
  const u = value as ConverseUsage;
  if (typeof u.inputTokens !== 'number') return null;
  const cacheRead = num(u.cacheReadInputTokens);
  return reported(u.inputTokens + cacheRead + num(u.cacheWriteInputTokens), num(u.outputTokens), cacheRead);
}

/**
 * Usage of a non-Converse (InvokeModel) body seen on the passthrough: Titan embeddings count their
 * input, and InvokeModelWithResponseStream's last chunk carries `amazon-bedrock-invocationMetrics`.
 */
export function usageFromInvoke(body: Record<string, unknown>): Usage | null {
  const metrics = body['amazon-bedrock-invocationMetrics'] as { inputTokenCount?: number; outputTokenCount?: number } | undefined;
  if (typeof metrics?.inputTokenCount === 'number') return reported(metrics.inputTokenCount, num(metrics.outputTokenCount));
  if (typeof body.inputTextTokenCount === 'number') return reported(body.inputTextTokenCount, 0);
  return null;
}

function num(v: unknown): number {
  return typeof v === 'number' && Number.isFinite(v) ? v : 0;
}
