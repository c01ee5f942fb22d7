/**
 * Live credentials by id. Each entry is an immutable snapshot; rotation replaces the entry, so a
 * request that already picked a credential finishes with the key it started with.
 */
import type { Catalog } from '../catalog/catalog.ts';
import type { CredentialConfig } from '../config/types.ts';
import { Secret } from './secret.ts';
import { describeRef, readSecret } from './sources.ts';

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
}

export class CredentialStore {
  readonly #byId = new Map<string, Credential>();
  readonly #defaultByProvider = new Map<string, string>();

  constructor(configs: readonly CredentialConfig[], catalog: Catalog, env: NodeJS.ProcessEnv = process.env) {
    for (const c of configs) this.#byId.set(c.id, fromConfig(c, catalog, env));
    // An explicit `default: true` wins; otherwise the provider's first credential is its default.
    for (const c of configs) if (c.default) this.#defaultByProvider.set(c.provider, c.id);
    for (const c of configs) if (!this.#defaultByProvider.has(c.provider)) this.#defaultByProvider.set(c.provider, c.id);
  }

  get(id: string): Credential | undefined {
    return this.#byId.get(id);
  }

  /** The credential a deployment uses when it names none. */
  defaultFor(provider: string): Credential | undefined {
    const id = this.#defaultByProvider.get(provider);
    return id === undefined ? undefined : this.#byId.get(id);
  }

  all(): Credential[] {
    return [...this.#byId.values()];
  }

  /** Swaps one credential atomically (rotation). */
  replace(credential: Credential): void {
    this.#byId.set(credential.id, credential);
  }

}

function fromConfig(c: CredentialConfig, catalog: Catalog, env: NodeJS.ProcessEnv): Credential {
  const base = {
    id: c.id,
    provider: c.provider,
    billing: c.billing,
    baseUrl: c.base_url,
    region: c.region,
    apiVersion: c.api_version,
  };
  if (c.secret === null) {
    const keyless = catalog.provider(c.provider)?.auth_schemas.some((s) => s.type === 'none') ?? false;
    return { ...base, secret: null, unavailable: keyless ? null : 'no secret configured', source: 'none' };
  }
  const reading = readSecret(c.secret, env);
  return reading.ok
    ? { ...base, secret: reading.secret, unavailable: null, source: describeRef(c.secret) }
    : { ...base, secret: null, unavailable: reading.reason, source: describeRef(c.secret) };
}
