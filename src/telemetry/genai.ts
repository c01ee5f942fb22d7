/**
 * Span attribute names and values: the OpenTelemetry GenAI, HTTP and error conventions (names from
 * @opentelemetry/semantic-conventions; this module is loaded with the SDK, only when traces are on),
 * then ours under `tollbooth.`. Nothing secret is ever an attribute: no keys, no credential
 * secrets, no query strings (a Gemini `?key=`), no prompt or completion content.
 */
import {
  ATTR_ERROR_TYPE,
  ATTR_HTTP_REQUEST_METHOD,
  ATTR_HTTP_RESPONSE_STATUS_CODE,
  ATTR_HTTP_ROUTE,
  ATTR_SERVER_ADDRESS,
  ATTR_SERVER_PORT,
  ATTR_URL_FULL,
  ATTR_URL_PATH,
  ATTR_URL_SCHEME,
  ATTR_USER_AGENT_ORIGINAL,
} from '@opentelemetry/semantic-conventions';
// Incubating names (the GenAI conventions are still in development): pinned by the package version.
import {
  ATTR_GEN_AI_OPERATION_NAME,
  ATTR_GEN_AI_PROVIDER_NAME,
  ATTR_GEN_AI_REQUEST_MODEL,
  ATTR_GEN_AI_REQUEST_STREAM,
  ATTR_GEN_AI_RESPONSE_MODEL,
  ATTR_GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS,
  ATTR_GEN_AI_USAGE_INPUT_TOKENS,
  ATTR_GEN_AI_USAGE_OUTPUT_TOKENS,
  ATTR_GEN_AI_USAGE_REASONING_OUTPUT_TOKENS,
  GEN_AI_OPERATION_NAME_VALUE_CHAT,
  GEN_AI_OPERATION_NAME_VALUE_EMBEDDINGS,
  GEN_AI_OPERATION_NAME_VALUE_GENERATE_CONTENT,
  GEN_AI_PROVIDER_NAME_VALUE_ANTHROPIC,
  GEN_AI_PROVIDER_NAME_VALUE_AWS_BEDROCK,
  GEN_AI_PROVIDER_NAME_VALUE_AZURE_AI_OPENAI,
  GEN_AI_PROVIDER_NAME_VALUE_COHERE,
  GEN_AI_PROVIDER_NAME_VALUE_DEEPSEEK,
  GEN_AI_PROVIDER_NAME_VALUE_GCP_GEMINI,
  GEN_AI_PROVIDER_NAME_VALUE_GROQ,
  GEN_AI_PROVIDER_NAME_VALUE_MISTRAL_AI,
  GEN_AI_PROVIDER_NAME_VALUE_OPENAI,
  GEN_AI_PROVIDER_NAME_VALUE_PERPLEXITY,
  GEN_AI_PROVIDER_NAME_VALUE_X_AI,
} from '@opentelemetry/semantic-conventions/incubating';
import type { Operation } from '../catalog/types.ts';

export const ATTR = {
  operation: ATTR_GEN_AI_OPERATION_NAME,
  provider: ATTR_GEN_AI_PROVIDER_NAME,
  requestModel: ATTR_GEN_AI_REQUEST_MODEL,
  responseModel: ATTR_GEN_AI_RESPONSE_MODEL,
  stream: ATTR_GEN_AI_REQUEST_STREAM,
  inputTokens: ATTR_GEN_AI_USAGE_INPUT_TOKENS,
  outputTokens: ATTR_GEN_AI_USAGE_OUTPUT_TOKENS,
  cacheReadTokens: ATTR_GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS,
  reasoningTokens: ATTR_GEN_AI_USAGE_REASONING_OUTPUT_TOKENS,
  errorType: ATTR_ERROR_TYPE,
  method: ATTR_HTTP_REQUEST_METHOD,
  route: ATTR_HTTP_ROUTE,
  status: ATTR_HTTP_RESPONSE_STATUS_CODE,
  urlPath: ATTR_URL_PATH,
  urlScheme: ATTR_URL_SCHEME,
  urlFull: ATTR_URL_FULL,
  serverAddress: ATTR_SERVER_ADDRESS,
  serverPort: ATTR_SERVER_PORT,
  userAgent: ATTR_USER_AGENT_ORIGINAL,

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
  openai: GEN_AI_PROVIDER_NAME_VALUE_OPENAI,
  anthropic: GEN_AI_PROVIDER_NAME_VALUE_ANTHROPIC,
  gemini: GEN_AI_PROVIDER_NAME_VALUE_GCP_GEMINI,
  azure: GEN_AI_PROVIDER_NAME_VALUE_AZURE_AI_OPENAI,
  bedrock: GEN_AI_PROVIDER_NAME_VALUE_AWS_BEDROCK,
  groq: GEN_AI_PROVIDER_NAME_VALUE_GROQ,
  deepseek: GEN_AI_PROVIDER_NAME_VALUE_DEEPSEEK,
  xai: GEN_AI_PROVIDER_NAME_VALUE_X_AI,
  mistral: GEN_AI_PROVIDER_NAME_VALUE_MISTRAL_AI,
  perplexity: GEN_AI_PROVIDER_NAME_VALUE_PERPLEXITY,
  cohere: GEN_AI_PROVIDER_NAME_VALUE_COHERE,
};

export function genaiProvider(name: string): string {
  return PROVIDERS[name] ?? name;
}

/** gen_ai.operation.name: the conventions have chat and embeddings; images and transcription are content generation. */
export function genaiOperation(operation: Operation | string): string {
  if (operation === 'chat') return GEN_AI_OPERATION_NAME_VALUE_CHAT;
  if (operation === 'embeddings') return GEN_AI_OPERATION_NAME_VALUE_EMBEDDINGS;
  return GEN_AI_OPERATION_NAME_VALUE_GENERATE_CONTENT;
}
