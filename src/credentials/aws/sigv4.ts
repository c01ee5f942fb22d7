/**
 * AWS Signature Version 4 for outbound requests (Bedrock), registered as the `aws_sigv4` signer.
 * It runs last, over the FINAL request: method, path exactly as it goes on the wire (model ids keep
 * `:` as `%3A`; the signer encodes the canonical path once more, as the AWS SDK does for every
 * service but S3), headers and body. A caller's own signing headers are dropped first, so a
 * passthrough request is re-signed with the managed credential and nothing of the caller's remains.
 */
import { GatewayError } from '../../errors/catalog.ts';
import type { Target } from '../../routing/target.ts';
import { splitUrl, type OutboundRequest } from '../../upstream/transport.ts';
import { parseAwsCredential } from './credential-string.ts';

/** Headers a SigV4 signature consists of: whatever the caller sent under these names is replaced. */
const SIGNING_HEADERS = new Set(['authorization', 'x-amz-date', 'x-amz-security-token', 'x-amz-content-sha256', 'host', 'date']);

/** @smithy/signature-v4 is loaded by the first signed request (Bedrock), not at start-up. */
let smithy: Promise<[typeof import('@smithy/hash-node'), typeof import('@smithy/signature-v4')]> | undefined;

export async function signAwsSigV4(target: Target, req: OutboundRequest, signingDate: Date = new Date()): Promise<void> {
  const secret = target.credential.secret;
  if (secret === null) return;
  const credentials = parseAwsCredential(secret.reveal());
  if ('invalid' in credentials) {
    throw new GatewayError('credential_unavailable', `Credential '${target.credential.id}': ${credentials.invalid}.`);
  }
  const region = credentials.region ?? target.credential.region;
  if (region === null) {
    throw new GatewayError('credential_unavailable', `Credential '${target.credential.id}' names no AWS region (in the secret or as region:).`);
  }
  if (req.body !== null && typeof req.body !== 'string' && !(req.body instanceof Uint8Array)) {
    // SigV4 hashes the payload; Bedrock has no streamed uploads, so this is a gateway bug, not a caller error.
    throw new GatewayError('internal_error', 'A streamed body cannot be signed with SigV4.');
  }
  const schema = target.provider.auth_schemas.find((s) => s.type === 'aws_sigv4');
  const service = schema?.type === 'aws_sigv4' ? schema.service : 'bedrock';

  for (const name of Object.keys(req.headers)) {
    if (SIGNING_HEADERS.has(name.toLowerCase())) delete req.headers[name];
  }
  const { origin, path: pathAndQuery } = splitUrl(req.url);
  const [protocol, , hostAndPort = ''] = origin.split('/');
  const q = pathAndQuery.indexOf('?');
  const path = q === -1 ? pathAndQuery : pathAndQuery.slice(0, q);
  const colon = hostAndPort.lastIndexOf(':');
  req.headers.host = hostAndPort;

  const [{ Hash }, { SignatureV4 }] = await (smithy ??= Promise.all([import('@smithy/hash-node'), import('@smithy/signature-v4')]));
  const signer = new SignatureV4({ service, region, credentials, sha256: Hash.bind(null, 'sha256'), uriEscapePath: true });
  const signed = await signer.sign(
    {
      method: req.method,
      protocol: protocol ?? 'https:',
      hostname: colon === -1 ? hostAndPort : hostAndPort.slice(0, colon),
      port: colon === -1 ? undefined : Number(hostAndPort.slice(colon + 1)),
      path,
      query: q === -1 ? {} : parseQuery(pathAndQuery.slice(q + 1)),
      headers: { ...req.headers },
      body: req.body ?? undefined,
    },
    { signingDate },
  );
  Object.assign(req.headers, signed.headers);
}

/** Query parameters as SigV4 wants them: decoded values (the signer re-encodes them canonically). */
function parseQuery(search: string): Record<string, string | string[]> {
  const query: Record<string, string | string[]> = {};
  for (const pair of search.split('&')) {
    if (pair.length === 0) continue;
    const eq = pair.indexOf('=');
    const key = safeDecode(eq === -1 ? pair : pair.slice(0, eq));
    const value = eq === -1 ? '' : safeDecode(pair.slice(eq + 1));
    const prior = query[key];
    query[key] = prior === undefined ? value : Array.isArray(prior) ? [...prior, value] : [prior, value];
  }
  return query;
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}
