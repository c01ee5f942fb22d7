/**
 * What a request may cost before it is sent.
 *
 * Credits are reserved for the worst case, priced with the same formula as the charge:
 *   input  ≤ the request's size in bytes: a byte-level BPE token covers at least one byte of text,
 *            and the JSON around each message outweighs the chat template's per-message tokens;
 *   output ≤ the caller's max_tokens (any provider's spelling), else the model's max_output_tokens,
 *            else its context window;
 * each capped at the model's context window. The TPM limiter counts a likelier figure (input bytes / 4
 * plus the caller's max_tokens) and is settled to the reported usage afterwards.
 */
import type { ModelRecord, Operation } from '../catalog/types.ts';
import { charge } from '../metering/credits.ts';
import type { Usage } from '../metering/usage.ts';

/** Where each API spells the output cap, in the order looked at. */
const MAX_TOKEN_FIELDS: readonly (readonly string[])[] = [
  ['max_completion_tokens'], // OpenAI chat (current)
  ['max_tokens'], // OpenAI chat (legacy), Anthropic, Cohere, Mistral, …
  ['max_output_tokens'], // OpenAI Responses
  ['generationConfig', 'maxOutputTokens'], // Gemini
  ['inferenceConfig', 'maxTokens'], // Bedrock Converse
];

export function requestedMaxTokens(body: unknown): number | null {
  for (const path of MAX_TOKEN_FIELDS) {
    let value: unknown = body;
    for (const field of path) value = typeof value === 'object' && value !== null ? (value as Record<string, unknown>)[field] : undefined;
    if (typeof value === 'number' && Number.isSafeInteger(value) && value > 0) return value;
  }
  return null;
}

export interface CostInput {
  model: ModelRecord | null;
  operation: Operation;
  /** Size of the request body (or upload) in bytes. */
  inputBytes: number;
  maxTokens: number | null;
}

export function worstCaseUsage({ model, operation, inputBytes, maxTokens }: CostInput): Usage {
  const window = model && model.context_window > 0 ? model.context_window : Infinity;
  const prompt = Math.min(inputBytes, window);
  const output = maxTokens ?? model?.max_output_tokens ?? (window === Infinity ? 0 : window);
  const completion = operation === 'embeddings' ? 0 : Math.min(output, window);
  return { prompt_tokens: prompt, completion_tokens: completion, cached_tokens: 0, reasoning_tokens: 0, source: 'estimated' };
}

/** The most the request can be charged, in pico-credits, over the deployments that may serve it. */
export function worstCaseCharge(input: CostInput, billings: readonly ('managed' | 'byok')[]): bigint {
  const usage = worstCaseUsage(input);
  let worst = 0n;
  for (const billing of new Set(billings)) {
    const { pico } = charge({ usage, model: input.model, billing, operation: input.operation, served: true });
    if (pico > worst) worst = pico;
  }
  return worst;
}

/** Tokens the TPM limiter counts up front. */
export function likelyTokens(inputBytes: number, maxTokens: number | null): number {
  return Math.ceil(inputBytes / 4) + (maxTokens ?? 0);
}
