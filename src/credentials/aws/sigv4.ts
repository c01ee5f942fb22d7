/**
 * AWS Signature Version 4 for outbound requests (Bedrock): the backend auth of `aws_sigv4` credentials.
 * It runs last, over the FINAL request: method, path exactly as it goes on the wire (model ids keep
 * `:` as `%3A`; the signer encodes the canonical path once more, as the AWS SDK does for every
 * service but S3), headers and body. A caller's own signing headers are dropped first, so a
 * passthrough request is re-signed with the managed credential and nothing of the caller's remains.
 */
import { GatewayError } from '../../errors/catalog.ts';
import type { Target } from '../../routing/target.ts';
import { splitUrl, type OutboundRequest } from '../../upstream/transport.ts';
import type { Credential } from '../store.ts';
import type { AwsKeys } from '../identity/aws.ts';
import { parseAwsCredential } from './credential-string.ts';

/** Headers a SigV4 signature consists of: whatever the caller sent under these names is replaced. */
const SIGNING_HEADERS = new Set(['authorization', 'x-amz-date', 'x-amz-security-token', 'x-amz-content-sha256', 'host', 'date']);

/** @smithy/signature-v4 is loaded by the first signed request (Bedrock), not at start-up. */
let smithy: Promise<[typeof import('@smithy/hash-node'), typeof import('@smithy/signature-v4')]> | undefined;

/** A credential's SigV4 signer, built once: its AWS string parsed (or its identity taken), the signer made on first use. */
export interface SigV4Signer {
  sign(req: OutboundRequest, signingDate?: Date): Promise<void>;
}

/** What a signature is made with: fixed keys (the credential string) or the identity's current ones. */
type KeySource = AwsKeys | (() => Promise<AwsKeys>);

/**
 * Builds the signer of one credential snapshot (a rotation builds a new one). A credential string
 * that cannot sign is reported when a request is signed with it, as a 503 naming the credential.
 * A workload identity credential signs each request with the keys its identity holds at that moment.
 */
export function sigV4Signer(credential: Credential, service: string): SigV4Signer {
  const identity = credential.identity;
  if (identity?.kind === 'aws_workload_identity') {
    const problem = credential.region === null ? `Credential '${credential.id}' names no AWS region (region:).` : null;
    return requestSigner(service, credential.region, () => identity.keys(), problem);
  }
  const secret = credential.secret;
  if (secret === null) return { sign: async () => {} };
  const parsed = parseAwsCredential(secret.reveal());
  if ('invalid' in parsed) return requestSigner(service, null, null, `Credential '${credential.id}': ${parsed.invalid}.`);
  const region = parsed.region ?? credential.region;
  const problem = region === null ? `Credential '${credential.id}' names no AWS region (in the secret or as region:).` : null;
  return requestSigner(service, region, parsed, problem);
}

function requestSigner(service: string, region: string | null, keys: KeySource | null, problem: string | null): SigV4Signer {
  let signer: Promise<import('@smithy/signature-v4').SignatureV4> | undefined;
  return {
    async sign(req, signingDate = new Date()) {
      if (problem !== null || keys === null || region === null) throw new GatewayError('credential_unavailable', problem ?? 'invalid AWS credential');
      if (req.body !== null && typeof req.body !== 'string' && !(req.body instanceof Uint8Array)) {
        // SigV4 hashes the payload; Bedrock has no streamed uploads, so this is a gateway bug, not a caller error.
        throw new GatewayError('internal_error', 'A streamed body cannot be signed with SigV4.');
      }
      // A function is asked on every signature (@smithy calls it per sign): the identity's current keys.
      signer ??= (smithy ??= Promise.all([import('@smithy/hash-node'), import('@smithy/signature-v4')])).then(
        ([{ Hash }, { SignatureV4 }]) => new SignatureV4({ service, region, credentials: keys, sha256: Hash.bind(null, 'sha256'), uriEscapePath: true }),
      );
      for (const name of Object.keys(req.headers)) {
        if (SIGNING_HEADERS.has(name.toLowerCase())) delete req.headers[name];
      }
      const { origin, path: pathAndQuery } = splitUrl(req.url);
      const [protocol, , hostAndPort = ''] = origin.split('/');
      const q = pathAndQuery.indexOf('?');
      const path = q === -1 ? pathAndQuery : pathAndQuery.slice(0, q);
      const colon = hostAndPort.lastIndexOf(':');
      req.headers.host = hostAndPort;
      const signed = await (await signer).sign(
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
    },
  };
}

/** Signs `req` with the target's credential (a signer built for this one call: tests and tools). */
export function signAwsSigV4(target: Target, req: OutboundRequest, signingDate: Date = new Date()): Promise<void> {
  const schema = target.provider.auth_schemas.find((s) => s.type === 'aws_sigv4');
  return sigV4Signer(target.credential, schema?.type === 'aws_sigv4' ? schema.service : 'bedrock').sign(req, signingDate);
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
