/**
 * What a request may cost before it is sent.
 *
 * Credits are reserved for the worst case, priced with the catalog's rates in force at the start
 * (pricing/worst-case.ts: the dearest class, service tier and reachable context tier):
 *   input  ≤ the request's size in bytes: a byte-level BPE token covers at least one byte of text,
 *            and the JSON around each message outweighs the chat template's per-message tokens;
 *   output ≤ the caller's max_tokens (any provider's spelling), else the model's max_output_tokens,
 *            else its context window;
 * each capped at the model's context window. The TPM limiter counts a likelier figure (input bytes / 4
 * plus the caller's max_tokens) and is settled to the reported usage afterwards.
 */
import type { ModelRecord, Operation } from '../catalog/types.ts';
import { worstCasePico } from '../metering/pricing/worst-case.ts';

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
  /** The request body, for the units it asks for (images: `n`). */
  body?: unknown;
  /** When the request starts (epoch ms): the price in force then applies. */
  at?: number;
}

/** Upper bounds on the tokens a request can use: input by its bytes, output by its cap. */
function worstCaseTokens({ model, operation, inputBytes, maxTokens }: CostInput): { input: number; output: number } {
  const window = model && model.context_window > 0 ? model.context_window : Infinity;
  const input = Math.min(inputBytes, window);
  const output = maxTokens ?? model?.max_output_tokens ?? (window === Infinity ? 0 : window);
  return { input, output: operation === 'embeddings' ? 0 : Math.min(output, window) };
}

/** Non-token units a request asks for, by unit name (priced at the dearest variant of the unit). */
function requestedUnits(operation: Operation, body: unknown): Record<string, number> {
  const b = typeof body === 'object' && body !== null ? (body as Record<string, unknown>) : {};
  switch (operation) {
    case 'images':
      return { image: typeof b.n === 'number' && Number.isSafeInteger(b.n) && b.n > 0 ? b.n : 1 };
    case 'audio_speech':
      // Billed per character of the input text (UTF-16 length ≥ characters: never under).
      return { character: typeof b.input === 'string' ? b.input.length : 0 };
    case 'rerank':
      // Cohere bills a search unit per query of up to 100 documents.
      return { search: Math.max(1, Math.ceil((Array.isArray(b.documents) ? b.documents.length : 0) / 100)) };
    default:
      return {};
  }
}

/** The most the request can be charged, in pico-credits, over the deployments that may serve it. */
export function worstCaseCharge(input: CostInput, billings: readonly ('managed' | 'byok')[]): bigint {
  if (!billings.includes('managed')) return 0n;
  const { input: inputTokens, output: outputTokens } = worstCaseTokens(input);
  const units = requestedUnits(input.operation, input.body);
  return worstCasePico({ model: input.model, at: input.at ?? Date.now(), inputTokens, outputTokens, units });
}

/** Tokens the TPM limiter counts up front. */
export function likelyTokens(inputBytes: number, maxTokens: number | null): number {
  return Math.ceil(inputBytes / 4) + (maxTokens ?? 0);
}
