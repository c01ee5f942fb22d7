/**
 * Unified embeddings ↔ Gemini `:batchEmbedContents`. Gemini's embed API may report no token count
 * (usageMetadata is absent for many models); then usage is estimated from the input and marked so.
 */
import { GatewayError } from '../../errors/catalog.ts';
import { estimated, reported, type Usage } from '../../metering/usage.ts';

export interface EmbeddingRequest {
  body: Record<string, unknown>;
  inputChars: number;
  base64: boolean;
}

export function toBatchEmbed(body: Record<string, unknown>, upstreamModel: string): EmbeddingRequest {
  const inputs = typeof body.input === 'string' ? [body.input] : body.input;
  if (!Array.isArray(inputs) || inputs.length === 0 || !inputs.every((x) => typeof x === 'string')) {
    throw new GatewayError('invalid_request', "Gemini embeds text: 'input' must be a string or an array of strings (not token ids).", { param: 'input' });
  }
  const model = `models/${upstreamModel.replace(/^models\//, '')}`;
  const dimensions = typeof body.dimensions === 'number' ? { outputDimensionality: body.dimensions } : {};
  return {
    body: { requests: (inputs as string[]).map((text) => ({ model, content: { parts: [{ text }] }, ...dimensions })) },
    inputChars: (inputs as string[]).reduce((n, s) => n + s.length, 0),
    base64: body.encoding_format === 'base64',
  };
}

interface BatchEmbedResponse {
  embeddings?: { values?: number[] }[];
  usageMetadata?: { promptTokenCount?: number };
}

export function toEmbeddingList(response: BatchEmbedResponse, model: string, request: EmbeddingRequest): { body: string; usage: Usage } {
  const tokens = response.usageMetadata?.promptTokenCount;
  const usage = typeof tokens === 'number' ? reported(tokens, 0) : estimated(request.inputChars, 0);
  const data = (response.embeddings ?? []).map((e, index) => ({
    object: 'embedding',
    index,
    embedding: request.base64 ? Buffer.from(new Float32Array(e.values ?? []).buffer).toString('base64') : (e.values ?? []),
  }));
  const body = {
    object: 'list',
    data,
    model,
    usage: {
      prompt_tokens: usage.prompt_tokens,
      total_tokens: usage.prompt_tokens,
      // Not an OpenAI field: tells the caller the count is Tollbooth's estimate, not Gemini's.
      ...(usage.source === 'estimated' ? { estimated: true } : {}),
    },
  };
  return { body: JSON.stringify(body), usage };
}
