/**
 * A credential's workload identity: the platform's short-lived keys (AWS) or tokens (Azure) in
 * place of a static secret from a Secret. One identity object lives as long as its config is
 * unchanged, across reloads and credential snapshots, so its cached keys are shared by all of them;
 * it holds its keys privately and prints only where they come from.
 */
import type { CredentialConfig, WorkloadIdentityConfig } from '../../config/types.ts';
import type { ProviderRecord } from '../../catalog/types.ts';
import { awsWorkloadIdentity, type AwsIdentityOptions, type AwsWorkloadIdentity } from './aws.ts';
import { azureWorkloadIdentity, type AzureIdentityOptions, type AzureWorkloadIdentity } from './azure.ts';

/** An identity with the key of the configuration it was built from (see identityKey). */
export type WorkloadIdentity = (AwsWorkloadIdentity | AzureWorkloadIdentity) & { readonly configKey: string };

export type IdentityOptions = AwsIdentityOptions & AzureIdentityOptions;

/** What identifies an identity's configuration: an identity is rebuilt only when this changes. */
export function identityKey(c: Pick<CredentialConfig, 'provider' | 'region' | 'identity'>): string {
  return JSON.stringify([c.provider, c.region, c.identity]);
}

/** The identity a credential config declares (null when it reads a static secret instead). */
export function buildIdentity(c: CredentialConfig, env: NodeJS.ProcessEnv, options: IdentityOptions = {}): WorkloadIdentity | null {
  const identity = c.identity;
  if (identity === null) return null;
  const made = identity.kind === 'aws_workload_identity' ? awsWorkloadIdentity(c.id, identity, c.region ?? '', options) : azureWorkloadIdentity(c.id, identity, env, options);
  return Object.freeze({ ...made, configKey: identityKey(c) });
}

/** Why `provider` cannot use a credential with `identity` (config validation), or null when it can. */
export function identityMismatch(identity: WorkloadIdentityConfig, provider: ProviderRecord): string | null {
  if (identity.kind === 'aws_workload_identity') {
    return provider.auth_schemas.some((s) => s.type === 'aws_sigv4')
      ? null
      : `aws_workload_identity signs requests with SigV4: provider '${provider.name}' does not use AWS signatures (use it for bedrock)`;
  }
  return provider.api === 'azure' ? null : `azure_workload_identity sends Entra ID tokens to Azure OpenAI: provider '${provider.name}' is not an Azure provider`;
}
