/**
 * Unified embeddings over Bedrock InvokeModel (`/model/{id}/invoke`), by model family:
 *   Titan Text Embeddings V2  {inputText, dimensions?} → {embedding, inputTextTokenCount}   (one input per call)
 *   Cohere Embed on Bedrock   {texts, input_type, output_dimension?} → {embeddings: [[…]] | {float: [[…]]}}
 * Cohere's Bedrock body carries no token count (Bedrock puts it in response headers, which the
 * adapter contract does not see), so those calls are metered from an estimate.
 */
import { GatewayError } from '../../errors/catalog.ts';
import { reported, type Usage } from '../../metering/usage.ts';

export type EmbeddingFamily = 'titan' | 'cohere';

export function embeddingFamily(upstreamModel: string): EmbeddingFamily | null {
  if (upstreamModel.includes('amazon.titan-embed')) return 'titan';
  if (upstreamModel.includes('cohere.embed')) return 'cohere';
  return null;
}

export function embeddingRequest(family: EmbeddingFamily, body: Record<string, unknown>): Record<string, unknown> {
  const inputs = inputTexts(body.input);
  const dimensions = typeof body.dimensions === 'number' ? body.dimensions : undefined;
  if (family === 'titan') {
    if (inputs.length !== 1) {
      throw new GatewayError('invalid_request', 'Titan Text Embeddings takes one input per request on Bedrock; send one string.', { param: 'input' });
    }
    return dimensions === undefined ? { inputText: inputs[0] } : { inputText: inputs[0], dimensions };
  }
  // Cohere needs input_type; OpenAI's API has none, so documents are assumed unless the caller says.
  const inputType = typeof body.input_type === 'string' ? body.input_type : 'search_document';
  return dimensions === undefined ? { texts: inputs, input_type: inputType } : { texts: inputs, input_type: inputType, output_dimension: dimensions };
}

export function embeddingResponse(
  family: EmbeddingFamily,
  raw: Record<string, unknown>,
  model: string,
  encodingFormat: unknown,
): { body: string; usage: Usage | null } {
  const vectors = family === 'titan' ? [raw.embedding] : cohereVectors(raw.embeddings);
  if (!vectors.every((v): v is number[] => Array.isArray(v))) {
    throw new GatewayError('upstream_bad_response', 'Bedrock returned an embeddings body without vectors.', { details: { provider: 'bedrock' } });
  }
  const usage = family === 'titan' && typeof raw.inputTextTokenCount === 'number' ? reported(raw.inputTextTokenCount, 0) : null;
  const data = vectors.map((embedding, index) => ({
    object: 'embedding',
    index,
    embedding: encodingFormat === 'base64' ? Buffer.from(new Float32Array(embedding).buffer).toString('base64') : embedding,
  }));
  const body: Record<string, unknown> = { object: 'list', data, model };
  if (usage) body.usage = { prompt_tokens: usage.prompt_tokens, total_tokens: usage.prompt_tokens };
  return { body: JSON.stringify(body), usage };
}

function cohereVectors(embeddings: unknown): unknown[] {
  if (Array.isArray(embeddings)) return embeddings;
  const float = (embeddings as { float?: unknown } | null)?.float;
  return Array.isArray(float) ? float : [];
}

function inputTexts(input: unknown): string[] {
  if (typeof input === 'string') return [input];
  if (Array.isArray(input) && input.length > 0 && input.every((x) => typeof x === 'string')) return input as string[];
  throw new GatewayError('invalid_request', "Bedrock embedding models take 'input' as a string or an array of strings (not token ids).", { param: 'input' });
}
