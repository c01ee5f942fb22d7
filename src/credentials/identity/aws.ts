/**
 * AWS workload identity: Bedrock keys from the AWS SDK's default credential chain
 * (`fromNodeProviderChain`: environment, shared config, IRSA's web identity token file, EKS Pod
 * Identity's container credentials endpoint, the instance role), optionally exchanged for a role
 * with sts:AssumeRole. The chain is asked with `forceRefresh` so Refreshing (refreshing.ts) alone
 * decides when keys are renewed: at half their lifetime, at the latest 5 minutes before expiry.
 */
import type { AwsWorkloadIdentityConfig } from '../../config/types.ts';
import { identityUnavailable } from './errors.ts';
import { Refreshing } from './refreshing.ts';

/** Temporary (or, from the environment, static) AWS keys, as the SDK's providers return them. */
export interface AwsKeys {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
  expiration?: Date;
}

/** An AWS SDK credential provider (`AwsCredentialIdentityProvider`). */
export type AwsKeyProvider = (options?: { forceRefresh?: boolean }) => Promise<AwsKeys>;

export interface AwsWorkloadIdentity {
  readonly kind: 'aws_workload_identity';
  /** For logs and errors: where the keys come from, never a key. */
  readonly description: string;
  /** The keys to sign with now (cached; refreshed before expiry). */
  keys(): Promise<AwsKeys>;
}

export interface AwsIdentityOptions {
  /** Replaces the default chain (tests, tools). */
  provider?: AwsKeyProvider;
  clock?: () => number;
}

export function awsWorkloadIdentity(credentialId: string, config: AwsWorkloadIdentityConfig, region: string, options: AwsIdentityOptions = {}): AwsWorkloadIdentity {
  const description = config.role_arn === null ? 'the AWS default credential chain' : `the AWS default credential chain, then role ${config.role_arn}`;
  let provider: Promise<AwsKeyProvider> | undefined = options.provider ? Promise.resolve(options.provider) : undefined;
  const cache = new Refreshing<AwsKeys>(async () => {
    // The SDK's providers load with the first signed request, not at start-up.
    provider ??= defaultProvider(config, region);
    try {
      const keys = await (await provider)({ forceRefresh: true });
      return { value: keys, expiresAt: keys.expiration?.getTime() ?? null };
    } catch (err) {
      const held = cache.peek();
      throw identityUnavailable(credentialId, description, err, held ? [held.secretAccessKey, held.sessionToken ?? ''] : []);
    }
  }, options.clock);
  return Object.freeze({
    kind: 'aws_workload_identity' as const,
    description,
    keys: () => cache.get(),
    toJSON: () => ({ kind: 'aws_workload_identity', description }),
  });
}

async function defaultProvider(config: AwsWorkloadIdentityConfig, region: string): Promise<AwsKeyProvider> {
  const { fromNodeProviderChain, fromTemporaryCredentials } = await import('@aws-sdk/credential-providers');
  const chain = fromNodeProviderChain() as AwsKeyProvider;
  if (config.role_arn === null) return chain;
  const assume = fromTemporaryCredentials({
    params: { RoleArn: config.role_arn, RoleSessionName: config.session_name ?? 'tollbooth' },
    masterCredentials: chain,
    clientConfig: { region },
  });
  return assume as AwsKeyProvider;
}
