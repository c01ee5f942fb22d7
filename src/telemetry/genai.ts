/**
 * Span attribute names and values: the OpenTelemetry GenAI, HTTP and error conventions (copied, as
 * the conventions advise for incubating names, rather than imported at run time), then ours under
 * `tollbooth.`. Nothing secret is ever an attribute: no keys, no credential secrets, no query
 * strings (a Gemini `?key=`), no prompt or completion content.
 */
import type { Operation } from '../catalog/types.ts';

export const ATTR = {
  operation: 'gen_ai.operation.name',
  provider: 'gen_ai.provider.name',
  requestModel: 'gen_ai.request.model',
  responseModel: 'gen_ai.response.model',
  stream: 'gen_ai.request.stream',
  inputTokens: 'gen_ai.usage.input_tokens',
  outputTokens: 'gen_ai.usage.output_tokens',
  cacheReadTokens: 'gen_ai.usage.cache_read.input_tokens',
  reasoningTokens: 'gen_ai.usage.reasoning.output_tokens',
  errorType: 'error.type',
  method: 'http.request.method',
  route: 'http.route',
  status: 'http.response.status_code',
  urlPath: 'url.path',
  urlScheme: 'url.scheme',
  urlFull: 'url.full',
  serverAddress: 'server.address',
  serverPort: 'server.port',
  userAgent: 'user_agent.original',

  requestId: 'tollbooth.request_id',
  api: 'tollbooth.api',
  tbOperation: 'tollbooth.operation',
  tbProvider: 'tollbooth.provider',
  org: 'tollbooth.org',
  billing: 'tollbooth.billing',
  credential: 'tollbooth.credential',
  credits: 'tollbooth.credits',
  usageSource: 'tollbooth.usage.source',
  unpriced: 'tollbooth.unpriced',
  outcome: 'tollbooth.outcome',
  attempts: 'tollbooth.attempts',
  attempt: 'tollbooth.attempt',
  retried: 'tollbooth.attempt.retried',
  requestedStatus: 'tollbooth.deprecation.status',
  replacement: 'tollbooth.deprecation.replacement',
  chain: 'tollbooth.deprecation.chain',
} as const;

/** The conventions' well-known gen_ai.provider.name values, by Tollbooth's provider name; the rest keep ours. */
const PROVIDERS: Record<string, string> = {
  openai: 'openai',
  anthropic: 'anthropic',
  gemini: 'gcp.gemini',
  azure: 'azure.ai.openai',
  bedrock: 'aws.bedrock',
  groq: 'groq',
  deepseek: 'deepseek',
  xai: 'x_ai',
  mistral: 'mistral_ai',
  perplexity: 'perplexity',
  cohere: 'cohere',
};

export function genaiProvider(name: string): string {
  return PROVIDERS[name] ?? name;
}

/** gen_ai.operation.name: the conventions have chat and embeddings; images and transcription are content generation. */
export function genaiOperation(operation: Operation | string): string {
  return operation === 'chat' || operation === 'embeddings' ? operation : 'generate_content';
}
