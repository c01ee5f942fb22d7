/**
 * Live credentials by id, as an immutable value. Each credential is a frozen snapshot and every
 * change (rotation, an org's API credential, a reload) builds a new store that is swapped in with a
 * new Runtime, so a request keeps the keys of the runtime it started under until it ends.
 */
import type { Catalog } from '../catalog/catalog.ts';
import type { CredentialConfig } from '../config/types.ts';
import { buildIdentity, identityKey, type WorkloadIdentity } from './identity/workload-identity.ts';
import type { Secret } from './secret.ts';
import { sourceFor } from './sources.ts';

export interface Credential {
  readonly id: string;
  readonly provider: string;
  readonly billing: 'managed' | 'byok';
  /** null when the provider needs no key, or when the key could not be read (see `unavailable`). */
  readonly secret: Secret | null;
  /** Why this credential cannot serve (e.g. "environment variable X is not set"); null when it can. */
  readonly unavailable: string | null;
  readonly baseUrl: string | null;
  readonly region: string | null;
  readonly apiVersion: string | null;
  /** Where the secret comes from, for logs and the admin API (never the value). */
  readonly source: string;
  /**
   * Keys from the platform's workload identity (AWS chain, Entra ID) instead of `secret` (then null).
   * Shared by every snapshot of the credential while its config is unchanged: it caches and renews them.
   */
  readonly identity?: WorkloadIdentity | null;
  /** The org that created it over the credential API (its own key: byok); absent or null for the operator's config credentials. */
  readonly org?: string | null;
  /** Config `default: true`, or the API's `is_default` (the org's credential for that provider). */
  readonly isDefault?: boolean;
}

/** Whether an org created this credential over the API (else it is the operator's, from the config). */
export function isOrgOwned(c: Credential): c is Credential & { org: string } {
  return typeof c.org === 'string';
}

export class CredentialStore {
  readonly #byId: ReadonlyMap<string, Credential>;
  readonly #defaultByProvider = new Map<string, string>();
  /** `org\0provider` → the org's default credential id. */
  readonly #orgDefault = new Map<string, string>();
  readonly #effective = new Map<string, Credential>();

  /** Prefer `CredentialStore.fromConfig`; this takes credentials already built. */
  constructor(credentials: Iterable<Credential>) {
    this.#byId = new Map([...credentials].map((c) => [c.id, Object.freeze(c)]));
    const operator = [...this.#byId.values()].filter((c) => !isOrgOwned(c));
    // An explicit `default: true` wins; otherwise the provider's first credential is its default.
    for (const c of operator) if (c.isDefault === true) this.#defaultByProvider.set(c.provider, c.id);
    for (const c of operator) if (!this.#defaultByProvider.has(c.provider)) this.#defaultByProvider.set(c.provider, c.id);
    for (const c of this.#byId.values()) if (isOrgOwned(c) && c.isDefault === true) this.#orgDefault.set(`${c.org}\0${c.provider}`, c.id);
  }

  /**
   * The store for a (re)loaded config. With `previous` (a reload), a config credential whose provider
   * and secret reference are unchanged keeps the secret it has now (a rotated, verified key is not
   * replaced by a re-read, and a rejected one is not activated by it), and every org credential is
   * kept as is: API credentials do not live in the config.
   */
  static fromConfig(configs: readonly CredentialConfig[], catalog: Catalog, env: NodeJS.ProcessEnv = process.env, previous?: CredentialStore): CredentialStore {
    const built = configs.map((c) => fromConfig(c, catalog, env, previous?.get(c.id)));
    const orgOwned = previous ? previous.all().filter(isOrgOwned) : [];
    return new CredentialStore([...built, ...orgOwned]);
  }

  get(id: string): Credential | undefined {
    return this.#byId.get(id);
  }

  /**
   * The credential a deployment uses when it names none: the caller org's own default for the
   * provider when it has one that can serve, else the operator's.
   */
  defaultFor(provider: string, org: string | null = null): Credential | undefined {
    if (org !== null) {
      const own = this.#orgDefault.get(`${org}\0${provider}`);
      const credential = own === undefined ? undefined : this.#byId.get(own);
      if (credential && credential.unavailable === null) return this.effective(credential);
    }
    const id = this.#defaultByProvider.get(provider);
    return id === undefined ? undefined : this.#byId.get(id);
  }

  /**
   * An org credential that sets no base URL reaches its provider the way the operator's default
   * credential for that provider does (a regional endpoint, an egress proxy), else the catalog's.
   */
  effective(credential: Credential): Credential {
    if (!isOrgOwned(credential) || credential.baseUrl !== null) return credential;
    // Resolved once per stored credential (the store never changes); a candidate each time.
    const stored = this.#byId.get(credential.id) === credential;
    const cached = stored ? this.#effective.get(credential.id) : undefined;
    if (cached) return cached;
    const operator = this.defaultFor(credential.provider);
    const resolved = operator?.baseUrl ? Object.freeze({ ...credential, baseUrl: operator.baseUrl }) : credential;
    if (stored) this.#effective.set(credential.id, resolved);
    return resolved;
  }

  all(): Credential[] {
    return [...this.#byId.values()];
  }

  /** A new store with `credential` added or replacing the one with its id. */
  with(...credentials: Credential[]): CredentialStore {
    const next = new Map(this.#byId);
    for (const c of credentials) next.set(c.id, c);
    return new CredentialStore(next.values());
  }

  /** A new store without the credential `id`. */
  without(id: string): CredentialStore {
    return new CredentialStore([...this.#byId.values()].filter((c) => c.id !== id));
  }
}

function fromConfig(c: CredentialConfig, catalog: Catalog, env: NodeJS.ProcessEnv, prior: Credential | undefined): Credential {
  const base = {
    id: c.id,
    provider: c.provider,
    billing: c.billing,
    baseUrl: c.base_url,
    region: c.region,
    apiVersion: c.api_version,
    org: null,
    isDefault: c.default,
  };
  if (c.identity !== null) {
    // A reload keeps the identity (and the keys it holds) unless its configuration changed.
    const reused = prior && !isOrgOwned(prior) && prior.identity?.configKey === identityKey(c) ? prior.identity : null;
    const identity = reused ?? buildIdentity(c, env)!;
    return { ...base, secret: null, unavailable: null, source: identity.description, identity };
  }
  if (c.secret === null) {
    const keyless = catalog.provider(c.provider)?.auth_schemas.some((s) => s.type === 'none') ?? false;
    return { ...base, secret: null, unavailable: keyless ? null : 'no secret configured', source: 'none' };
  }
  const source = sourceFor(c.secret, env);
  if (prior && !isOrgOwned(prior) && prior.provider === c.provider && prior.source === source.description) {
    return { ...base, secret: prior.secret, unavailable: prior.unavailable, source: prior.source };
  }
  const reading = source.read();
  return reading.ok
    ? { ...base, secret: reading.secret, unavailable: null, source: source.description }
    : { ...base, secret: null, unavailable: reading.reason, source: source.description };
}
