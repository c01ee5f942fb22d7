/**
 * What an identity failure may say. The SDKs' errors are useful (a missing role, an AADSTS code)
 * but come from elsewhere: only the error's name and a bounded, scrubbed message are kept, never a
 * token, key or assertion (JWT-shaped text and the values the identity holds are redacted).
 */
import { GatewayError } from '../../errors/catalog.ts';
import { printable } from '../../util/printable.ts';
import { redactSecrets } from '../../util/redact.ts';

const JWT_SHAPE = /\beyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.?[A-Za-z0-9_-]*/g;
const MAX_REASON = 300;

/** A short, secret-free reason for an identity failure. */
export function identityFailureReason(err: unknown, secrets: Iterable<string> = []): string {
  const name = err instanceof Error ? err.name : 'Error';
  const message = err instanceof Error ? err.message : String(err);
  const firstLine = message.split('\n').find((l) => l.trim().length > 0) ?? '';
  const scrubbed = redactSecrets(firstLine.replace(JWT_SHAPE, '[redacted]'), secrets);
  return printable(`${name}: ${scrubbed}`, MAX_REASON);
}

/** The 503 a request gets when its credential's workload identity gives no usable credentials. */
export function identityUnavailable(credentialId: string, description: string, err: unknown, secrets: Iterable<string> = []): GatewayError {
  return new GatewayError('credential_unavailable', `Credential '${credentialId}': ${description} gave no credentials (${identityFailureReason(err, secrets)}).`);
}
