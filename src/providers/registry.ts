/** API family → adapter factory. Native families register here as they land. */
import type { ApiFamily } from '../catalog/types.ts';
import { GatewayError } from '../errors/catalog.ts';
import type { Target } from '../routing/target.ts';
import type { AdapterFactory, ProviderAdapter } from './contract.ts';
import { createOpenAICompatibleAdapter } from './openai-compatible/adapter.ts';
import { createGeminiAdapter } from './gemini/adapter.ts';
import { createAzureAdapter } from './azure/adapter.ts';
import { createAnthropicAdapter } from './anthropic/adapter.ts';
import { createCohereAdapter } from './cohere/adapter.ts';
import { createBedrockAdapter } from './bedrock/adapter.ts';

const FACTORIES: Partial<Record<ApiFamily, AdapterFactory>> = {
  openai: createOpenAICompatibleAdapter,
  anthropic: createAnthropicAdapter,
  cohere: createCohereAdapter,
  bedrock: createBedrockAdapter,
  gemini: createGeminiAdapter,
  azure: createAzureAdapter,
};

export function createAdapter(target: Target): ProviderAdapter {
  const factory = FACTORIES[target.provider.api];
  if (!factory) {
    throw new GatewayError(
      'operation_not_supported',
      `Provider '${target.provider.name}' (${target.provider.api} API) is not translated by this build yet.`,
      { retryable: true },
    );
  }
  return factory(target);
}

export function hasAdapter(api: ApiFamily): boolean {
  return FACTORIES[api] !== undefined;
}
