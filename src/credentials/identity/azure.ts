/**
 * Azure workload identity: Microsoft Entra ID access tokens for Azure OpenAI, sent as
 * `Authorization: Bearer` instead of an `api-key`. On AKS with workload identity the webhook sets
 * AZURE_FEDERATED_TOKEN_FILE, AZURE_CLIENT_ID, AZURE_TENANT_ID and AZURE_AUTHORITY_HOST, and the
 * service account token is exchanged for an Entra token (@azure/identity's
 * WorkloadIdentityCredential); elsewhere (a VM, App Service, AKS pod-managed identity) the managed
 * identity endpoint is asked (ManagedIdentityCredential). Tokens are cached by Refreshing
 * (refreshing.ts) and renewed before they expire, at the time Entra suggests when it says one.
 */
import type { AzureWorkloadIdentityConfig } from '../../config/types.ts';
import { identityUnavailable } from './errors.ts';
import { Refreshing } from './refreshing.ts';

/** An @azure/identity TokenCredential, reduced to what is used here. */
export interface EntraTokenSource {
  getToken(scopes: string | string[]): Promise<{ token: string; expiresOnTimestamp: number; refreshAfterTimestamp?: number } | null>;
}

export interface AzureWorkloadIdentity {
  readonly kind: 'azure_workload_identity';
  /** For logs and errors: where tokens come from, never a token. */
  readonly description: string;
  /** The access token to send now (cached; refreshed before expiry). */
  token(): Promise<string>;
}

export interface AzureIdentityOptions {
  /** Replaces the workload/managed identity credential (tests, tools). */
  source?: EntraTokenSource;
  clock?: () => number;
}

export const COGNITIVE_SERVICES_SCOPE = 'https://cognitiveservices.azure.com/.default';

export function azureWorkloadIdentity(credentialId: string, config: AzureWorkloadIdentityConfig, env: NodeJS.ProcessEnv, options: AzureIdentityOptions = {}): AzureWorkloadIdentity {
  const federated = env.AZURE_FEDERATED_TOKEN_FILE !== undefined && env.AZURE_FEDERATED_TOKEN_FILE !== '';
  const description = federated ? 'Microsoft Entra workload identity' : 'the Azure managed identity';
  let source: Promise<EntraTokenSource> | undefined = options.source ? Promise.resolve(options.source) : undefined;
  const cache = new Refreshing<string>(async () => {
    // @azure/identity (and MSAL) load with the first Azure request, not at start-up.
    source ??= entraSource(config, env, federated);
    try {
      const token = await (await source).getToken(config.scope);
      if (token === null) throw new Error('no token was returned');
      return { value: token.token, expiresAt: token.expiresOnTimestamp, refreshAt: token.refreshAfterTimestamp ?? null };
    } catch (err) {
      const held = cache.peek();
      throw identityUnavailable(credentialId, description, err, held ? [held] : []);
    }
  }, options.clock);
  return Object.freeze({
    kind: 'azure_workload_identity' as const,
    description,
    token: () => cache.get(),
    toJSON: () => ({ kind: 'azure_workload_identity', description }),
  });
}

async function entraSource(config: AzureWorkloadIdentityConfig, env: NodeJS.ProcessEnv, federated: boolean): Promise<EntraTokenSource> {
  const { ManagedIdentityCredential, WorkloadIdentityCredential } = await import('@azure/identity');
  const clientId = config.client_id ?? env.AZURE_CLIENT_ID;
  if (!federated) return new ManagedIdentityCredential(clientId ? { clientId } : {});
  return new WorkloadIdentityCredential({
    tokenFilePath: env.AZURE_FEDERATED_TOKEN_FILE!,
    ...(clientId ? { clientId } : {}),
    ...((config.tenant_id ?? env.AZURE_TENANT_ID) ? { tenantId: (config.tenant_id ?? env.AZURE_TENANT_ID)! } : {}),
    ...(env.AZURE_AUTHORITY_HOST ? { authorityHost: env.AZURE_AUTHORITY_HOST } : {}),
    disableInstanceDiscovery: config.disable_instance_discovery,
  });
}
