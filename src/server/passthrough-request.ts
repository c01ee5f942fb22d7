/** The request side of native passthrough: what is forwarded, and where to. */
import type { IncomingHttpHeaders } from 'node:http';
import type { ProviderRecord } from '../catalog/types.ts';
import { forwardableHeaders } from '../credentials/outbound-headers.ts';
import type { Credential, CredentialStore } from '../credentials/store.ts';
import { GatewayError } from '../errors/catalog.ts';
import { baseUrlFor } from '../routing/target.ts';

/** Never forwarded, besides what Tollbooth consumes (outbound-headers.ts): what undici sets itself, cookies. */
const DROP_REQUEST_HEADERS = new Set<string>([
  'host',
  'content-length',
  'cookie',
  // Identity encoding upstream, so the usage tap can read the body; loopback gains nothing from gzip.
  'accept-encoding',
]);

export function forwardedHeaders(incoming: IncomingHttpHeaders, provider: ProviderRecord): Record<string, string> {
  return { ...provider.default_headers, ...forwardableHeaders(incoming, DROP_REQUEST_HEADERS) };
}

/** Base URLs come from the catalog and credentials: a handful, parsed once each. */
const BASES = new Map<string, { origin: string; path: string }>();

/** A base URL's origin and its path without the trailing slash. */
export function parsedBase(url: string): { origin: string; path: string } {
  let parsed = BASES.get(url);
  if (!parsed) {
    const u = new URL(url);
    parsed = { origin: u.origin, path: u.pathname.replace(/\/$/, '') };
    if (BASES.size >= 256) BASES.clear();
    BASES.set(url, parsed);
  }
  return parsed;
}

/** The credential a passthrough call (HTTP or WebSocket) takes for the caller's org, and where it points. */
export function passthroughUpstream(
  credentials: CredentialStore,
  provider: ProviderRecord,
  orgId: string,
): { credential: Credential; baseUrl: string; origin: string; basePath: string } {
  const credential = credentials.defaultFor(provider.name, orgId);
  if (!credential || credential.unavailable !== null) {
    throw new GatewayError('credential_unavailable', `No usable credential for provider '${provider.name}' (${credential?.unavailable ?? 'none configured'}).`);
  }
  const base = baseUrlFor(provider, credential);
  if ('missing' in base) throw new GatewayError('credential_unavailable', `Provider '${provider.name}': ${base.missing}.`);
  const { origin, path } = parsedBase(base.url);
  return { credential, baseUrl: base.url, origin, basePath: path };
}

export function safeJson(raw: Buffer): unknown {
  try {
    return JSON.parse(raw.toString('utf8'));
  } catch {
    return null;
  }
}
