/**
 * Caller authentication: a Tollbooth key, in whichever header the caller's SDK uses, mapped to an
 * org and a role. Keys are held only as SHA-256 digests.
 */
import { hash, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import type { Role, TollboothConfig } from '../config/types.ts';
import { GatewayError } from '../errors/catalog.ts';

export interface Caller {
  /** null in `auth: none` mode. */
  keyId: string | null;
  orgId: string;
  role: Role;
}

interface KeyEntry {
  id: string;
  org: string;
  role: Role;
  digest: Buffer;
}

/** Headers an official SDK may carry its key in; all are stripped before anything goes upstream. */
export const CALLER_KEY_HEADERS = ['authorization', 'x-api-key', 'x-goog-api-key', 'api-key'] as const;

export class CallerAuth {
  readonly #mode: 'keys' | 'none';
  readonly #defaultOrg: string | null;
  readonly #orgs: ReadonlySet<string>;
  readonly #byDigest = new Map<string, KeyEntry>();

  constructor(config: Pick<TollboothConfig, 'auth' | 'keys' | 'orgs'>) {
    this.#mode = config.auth.mode;
    this.#defaultOrg = config.auth.default_org;
    this.#orgs = new Set(config.orgs.map((o) => o.id));
    for (const k of config.keys) {
      const hex = k.hash.slice('sha256:'.length);
      this.#byDigest.set(hex, { id: k.id, org: k.org, role: k.role, digest: Buffer.from(hex, 'hex') });
    }
  }

  /**
   * Who is calling. `orgHeader` is X-Organization-ID: when present it must name the key's org.
   * `queryKey` is Gemini's `?key=` form, accepted on the native Gemini passthrough only.
   */
  authenticate(headers: IncomingHttpHeaders, queryKey: string | null = null): Caller {
    const orgHeader = single(headers['x-organization-id']);
    if (this.#mode === 'none') {
      const orgId = orgHeader && this.#orgs.has(orgHeader) ? orgHeader : this.#defaultOrg;
      if (orgId === null) throw new GatewayError('internal_error', 'auth mode "none" has no default org');
      if (orgHeader && orgHeader !== orgId) {
        throw new GatewayError('org_mismatch', `Unknown organization '${orgHeader}'.`);
      }
      return { keyId: null, orgId, role: 'member' };
    }

    const key = presentedKey(headers) ?? queryKey;
    if (key === null) {
      throw new GatewayError(
        'missing_api_key',
        'No Tollbooth key was presented: send it as `Authorization: Bearer <key>` (or the x-api-key, x-goog-api-key or api-key header your SDK uses).',
      );
    }
    const entry = this.#lookup(key);
    if (!entry) throw new GatewayError('invalid_api_key', 'The Tollbooth key presented is not valid.');
    if (orgHeader !== undefined && orgHeader !== entry.org) {
      throw new GatewayError('org_mismatch', 'X-Organization-ID does not match the organization of this key.');
    }
    return { keyId: entry.id, orgId: entry.org, role: entry.role };
  }

  /**
   * The map is keyed by the SHA-256 of the key, so a lookup's timing says nothing usable about the
   * key itself (it would take a preimage); the final comparison is constant-time all the same.
   */
  #lookup(key: string): KeyEntry | undefined {
    const digest = hash('sha256', key, 'buffer');
    const entry = this.#byDigest.get(digest.toString('hex'));
    return entry && timingSafeEqual(entry.digest, digest) ? entry : undefined;
  }
}

export function presentedKey(headers: IncomingHttpHeaders): string | null {
  const authorization = single(headers.authorization);
  if (authorization !== undefined) {
    const match = /^Bearer\s+(.+)$/i.exec(authorization.trim());
    if (match?.[1]) return match[1].trim();
  }
  for (const name of ['x-api-key', 'x-goog-api-key', 'api-key'] as const) {
    const value = single(headers[name])?.trim();
    if (value) return value;
  }
  return null;
}

function single(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}
