/**
 * The seed's AWS credential string, `access_key::secret::region[::session_token]` (DESIGN.md).
 * Parsed on use, never logged: a malformed value is reported by shape, never by content.
 */
import type { ProviderRecord } from '../../catalog/types.ts';
import type { Credential } from '../store.ts';

export interface AwsCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  /** null when the string leaves the region empty (`key::secret` or `key::secret::::token`). */
  region: string | null;
  sessionToken?: string;
}

export const AWS_CREDENTIAL_FORMAT = 'access_key::secret::region[::session_token]';

const REGION = /^[a-z]{2,}(-[a-z0-9]+)+-\d+$/;

export function parseAwsCredential(value: string): AwsCredentials | { invalid: string } {
  const parts = value.split('::');
  if (parts.length < 2 || parts.length > 4) {
    return { invalid: `the secret is not in the form ${AWS_CREDENTIAL_FORMAT} (${parts.length} part(s) separated by '::')` };
  }
  const [accessKeyId = '', secretAccessKey = '', region = '', sessionToken = ''] = parts.map((p) => p.trim());
  if (accessKeyId.length === 0 || secretAccessKey.length === 0) {
    return { invalid: `the secret's access key or secret part is empty (expected ${AWS_CREDENTIAL_FORMAT})` };
  }
  if (region.length > 0 && !REGION.test(region)) {
    return { invalid: `the secret's region part is not an AWS region name (expected ${AWS_CREDENTIAL_FORMAT})` };
  }
  return {
    accessKeyId,
    secretAccessKey,
    region: region.length > 0 ? region : null,
    ...(sessionToken.length > 0 ? { sessionToken } : {}),
  };
}

/**
 * The region a SigV4 credential serves: the credential string's own region wins over the config's
 * `region` field, so the endpoint (src/routing/target.ts) and the signature scope always agree.
 */
export function awsRegion(secret: string, configRegion: string | null): { region: string | null } | { invalid: string } {
  const parsed = parseAwsCredential(secret);
  return 'invalid' in parsed ? parsed : { region: parsed.region ?? configRegion };
}

/** The region a credential serves; for SigV4 providers, by the rule of `awsRegion`. */
export function credentialRegion(provider: ProviderRecord, credential: Credential): { region: string | null } | { invalid: string } {
  const sigv4 = provider.auth_schemas.some((s) => s.type === 'aws_sigv4');
  return sigv4 && credential.secret !== null ? awsRegion(credential.secret.reveal(), credential.region) : { region: credential.region };
}
