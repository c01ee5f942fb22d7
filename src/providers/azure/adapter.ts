/**
 * Azure OpenAI speaks OpenAI's wire, so this is the OpenAI-compatible adapter with Azure's
 * addressing: the deployment (the catalog's upstream_model) in the path and the credential's
 * api-version in the query. A credential without api_version uses Azure's versionless v1 API
 * (<resource>/openai/v1/…, model named in the body). The api-key header comes from the catalog's
 * auth schema (src/credentials/backend-auth.ts).
 *
 * Azure's streams open with a chunk whose `choices` is empty and that carries
 * prompt_filter_results (azure-model-router.1.chunks.txt); it has no usage object, so the shared
 * stream reader forwards it unchanged and never takes it for the usage chunk.
 */
import type { Target } from '../../routing/target.ts';
import type { NativeRequestInfo, ProviderAdapter, UpstreamRequest } from '../contract.ts';
import { createOpenAICompatibleAdapter, type OpenAIContext } from '../openai-compatible/adapter.ts';

const DEPLOYMENT = /\/deployments\/([^/]+)\//;

export function createAzureAdapter(target: Target): ProviderAdapter<OpenAIContext> {
  const openai = createOpenAICompatibleAdapter(target);
  const apiVersion = target.credential.apiVersion;

  return {
    ...openai,

    request(operation, body): UpstreamRequest<OpenAIContext> {
      const up = openai.request(operation, body);
      const path =
        apiVersion === null
          ? `/v1${up.path}`
          : `/deployments/${encodeURIComponent(target.upstreamModel)}${up.path}?api-version=${encodeURIComponent(apiVersion)}`;
      return { ...up, path };
    },

    /** Deployment-scoped paths name the deployment; the v1 and Responses APIs name it in the body. */
    describeNative(path, body): NativeRequestInfo {
      const info = openai.describeNative(path, body);
      const deployment = DEPLOYMENT.exec(path)?.[1];
      return deployment === undefined ? info : { ...info, upstreamModel: safeDecode(deployment) };
    },
  };
}

function safeDecode(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}
