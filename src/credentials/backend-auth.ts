/**
 * Puts the provider credential on an outbound request, by the provider's auth schema. Kept apart
 * from the adapters, which only translate. AWS SigV4 needs the final URL and body, so this runs
 * last, just before the request leaves.
 */
import { GatewayError } from '../errors/catalog.ts';
import { stripConsumedHeaders } from './outbound-headers.ts';
import type { Target } from '../routing/target.ts';
import type { OutboundRequest } from '../upstream/transport.ts';

export type Signer = (target: Target, req: OutboundRequest) => Promise<void>;

const signers: Partial<Record<'aws_sigv4', Signer>> = {};

/** Native families that sign requests (Bedrock) register their signer here. */
export function registerSigner(type: 'aws_sigv4', signer: Signer): void {
  signers[type] = signer;
}

/**
 * The last step before a request leaves, on every path: the headers Tollbooth consumes are removed
 * (outbound-headers.ts), then the provider's credential is put on.
 */
export async function applyCredential(target: Target, req: OutboundRequest): Promise<void> {
  stripConsumedHeaders(req.headers);
  const secret = target.credential.secret;
  if (secret === null) return;
  const schema = target.provider.auth_schemas.find((s) => s.type !== 'none');
  if (schema?.type === 'api_key') {
    req.headers[schema.header] = (schema.prefix ?? '') + secret.reveal();
  } else if (schema?.type === 'aws_sigv4') {
    const sign = signers.aws_sigv4;
    if (!sign) throw new GatewayError('operation_not_supported', 'AWS SigV4 signing is not available in this build.');
    await sign(target, req);
  }
}
