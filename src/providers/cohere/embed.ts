/**
 * Unified embeddings ↔ Cohere v2 embed (POST /v2/embed). input_type defaults to search_document
 * (a caller may send Cohere's `input_type` as an extra field); floats are asked for, and encoded as
 * base64 float32 when the caller asked for base64 (the openai SDK's default).
 */
import { reported, type Usage } from '../../metering/usage.ts';
import type { Target } from '../../routing/target.ts';
import { invalid, type ChatBody } from '../unified/request-fields.ts';
import { usageFromCohere } from './usage.ts';

export function embedRequest(body: ChatBody, target: Target): Record<string, unknown> {
  const input = body.input;
  const texts = typeof input === 'string' ? [input] : Array.isArray(input) && input.every((t) => typeof t === 'string') ? input : null;
  if (!texts) throw invalid('Cohere embeddings take text: a string or an array of strings (not token arrays).', 'input');
  const request: Record<string, unknown> = {
    model: target.upstreamModel,
    texts,
    input_type: typeof body.input_type === 'string' ? body.input_type : 'search_document',
    embedding_types: ['float'],
  };
  if (typeof body.dimensions === 'number') request.output_dimension = body.dimensions;
  return request;
}

export function embeddingsFromCohere(body: Record<string, unknown>, target: Target, base64: boolean): { body: string; usage: Usage | null } {
  const embeddings = body.embeddings as { float?: number[][] } | number[][] | undefined;
  const vectors = (Array.isArray(embeddings) ? embeddings : embeddings?.float) ?? [];
  const usage = usageFromCohere(body.meta, true);
  const tokens = (usage ?? reported(0, 0)).prompt_tokens;
  return {
    body: JSON.stringify({
      object: 'list',
      data: vectors.map((vector, index) => ({ object: 'embedding', index, embedding: base64 ? float32Base64(vector) : vector })),
      model: target.upstreamModel,
      usage: { prompt_tokens: tokens, total_tokens: tokens },
    }),
    usage,
  };
}

function float32Base64(vector: number[]): string {
  return Buffer.from(new Float32Array(vector).buffer).toString('base64');
}
