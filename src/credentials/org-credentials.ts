/**
 * Credentials an org creates over the admin API: its own provider keys (billed by the vendor: byok).
 * They live in the encrypted vault and in the runtime's CredentialStore; a request from the org
 * whose provider has one marked default uses it instead of the operator's. Every change is
 * persisted first, then swapped in as a new runtime snapshot; changes run one at a time.
 */
import { randomBytes } from 'node:crypto';
import { withCredentials, type RuntimeHolder } from '../runtime/runtime.ts';
import { GatewayError } from '../errors/catalog.ts';
import type { Metrics } from '../metrics/registry.ts';
import type { Logger } from '../util/log.ts';
import { parseAuthData, type CredentialInput } from './auth-data.ts';
import { fingerprint } from './fingerprint.ts';
import type { Secret } from './secret.ts';
import { apiSource } from './sources.ts';
import type { Credential, CredentialStore } from './store.ts';
import type { CredentialVault, StoredCredential } from './vault.ts';
import type { RecordChange, SharedCredentialRecords } from './shared-records.ts';
import { verificationError, verifyCredential, type Send, type Verification } from './verify.ts';
import { verificationPolicy } from './verification-target.ts';

/** What the API shows of a credential: the stored metadata, never the sealed secret, only its fingerprint. */
export type CredentialView = Omit<StoredCredential, 'sealed' | 'org' | 'provider'> & {
  provider_name: string;
  org_id: string;
  billing: 'byok';
};

export interface OrgCredentialsDeps {
  vault: CredentialVault;
  /** With shared state: the records live in Redis, for every replica (else in the vault's file). */
  shared?: SharedCredentialRecords;
  holder: RuntimeHolder;
  send: Send;
  metrics: Metrics;
  log: Logger;
}

export class OrgCredentials {
  readonly #deps: OrgCredentialsDeps;
  #records = new Map<string, StoredCredential>();
  #queue: Promise<unknown> = Promise.resolve();

  constructor(deps: OrgCredentialsDeps, stored: readonly StoredCredential[]) {
    this.#deps = deps;
    for (const r of stored) this.#records.set(r.id, r);
  }

  /** The runtime form of a stored credential. */
  static credentialOf(record: StoredCredential, secret: Secret): Credential {
    const source = apiSource(secret);
    return {
      id: record.id,
      provider: record.provider,
      billing: 'byok',
      secret,
      unavailable: null,
      baseUrl: record.base_url,
      region: record.region,
      apiVersion: record.api_version,
      source: source.description,
      org: record.org,
      isDefault: record.is_default,
    };
  }

  list(org: string): CredentialView[] {
    return [...this.#records.values()].filter((r) => r.org === org).map(view);
  }

  get(org: string, id: string): CredentialView {
    return view(this.#owned(org, id));
  }

  create(org: string, input: CredentialInput): Promise<CredentialView> {
    const { vault } = this.#deps;
    if (vault.unavailable !== null) {
      throw new GatewayError('credential_store_unavailable', `Credentials cannot be stored: ${vault.unavailable}. Nothing was stored.`);
    }
    return this.#serially(async () => {
      const now = new Date().toISOString();
      const id = `cred_${randomBytes(10).toString('hex')}`;
      const identity = { id, org, provider: input.provider.name };
      const record: StoredCredential = {
        ...identity,
        name: input.name,
        auth_type: input.authType,
        base_url: input.baseUrl,
        region: input.region,
        api_version: input.apiVersion,
        is_default: input.isDefault,
        fingerprint: fingerprint(input.secret)!,
        created_at: now,
        updated_at: now,
        sealed: vault.seal(identity, input.secret),
      };
      const next = new Map(this.#records);
      // One default per org and provider: a new default unsets the previous one.
      const unset = input.isDefault ? [...next.values()].filter((r) => r.org === org && r.provider === record.provider && r.is_default) : [];
      for (const r of unset) next.set(r.id, { ...r, is_default: false, updated_at: now });
      next.set(id, record);
      await this.#commit(
        next,
        (store) =>
          store.with(
            OrgCredentials.credentialOf(record, input.secret),
            ...unset.flatMap((r) => {
              const c = store.get(r.id);
              return c ? [{ ...c, isDefault: false }] : [];
            }),
          ),
        { set: [record, ...unset.map((r) => next.get(r.id)!)], delete: [] },
      );
      this.#deps.log.info({ org, credential: id, provider: record.provider, is_default: record.is_default, fingerprint: record.fingerprint }, 'org credential created');
      return view(record);
    });
  }

  remove(org: string, id: string): Promise<void> {
    this.#owned(org, id);
    return this.#serially(async () => {
      this.#owned(org, id);
      const next = new Map(this.#records);
      next.delete(id);
      await this.#commit(next, (store) => store.without(id), { set: [], delete: [id] });
      this.#deps.log.info({ org, credential: id }, 'org credential deleted');
    });
  }

  /** A new secret for an existing credential: verified with the provider first, then swapped. */
  async rotate(org: string, id: string, authData: unknown): Promise<{ credential: CredentialView; verification: Verification }> {
    const record = this.#owned(org, id);
    const { holder, vault, metrics, log } = this.#deps;
    if (vault.unavailable !== null) throw new GatewayError('credential_store_unavailable', `Credentials cannot be stored: ${vault.unavailable}.`);
    const provider = holder.current.catalog.provider(record.provider);
    const active = holder.current.credentials.get(id);
    if (!provider || !active) throw new GatewayError('credential_unavailable', `Provider '${record.provider}' is no longer in the catalog.`);
    const input = parseAuthData(authData, provider, record.region);
    const candidate = holder.current.credentials.effective({ ...active, secret: input.secret, region: input.region ?? active.region });
    const verification = await verifyCredential(provider, candidate, this.#deps.send, undefined, verificationPolicy(holder.current.config));
    metrics.credentialVerifications.labels(provider.name, verification.result).inc();
    const keys = { active: record.fingerprint, candidate: fingerprint(input.secret) };
    if (verification.result === 'invalid' || verification.result === 'unreachable') {
      metrics.credentialRotations.labels(provider.name, 'api', verification.result === 'invalid' ? 'rejected' : 'unverified').inc();
      log.warn({ org, credential: id, provider: provider.name, ...keys, reason: verification.reason }, 'org credential rotation refused: the current key stays active');
      throw verificationError(provider.name, verification);
    }
    return this.#serially(async () => {
      const current = this.#owned(org, id);
      const now = new Date().toISOString();
      const identity = { id, org, provider: current.provider };
      const updated: StoredCredential = {
        ...current,
        auth_type: input.authType,
        region: input.region ?? current.region,
        fingerprint: fingerprint(input.secret)!,
        updated_at: now,
        sealed: vault.seal(identity, input.secret),
      };
      const next = new Map(this.#records).set(id, updated);
      await this.#commit(
        next,
        (store) => {
          const c = store.get(id);
          return c ? store.with({ ...c, secret: input.secret, region: updated.region }) : store;
        },
        { set: [updated], delete: [] },
      );
      const result = verification.result === 'valid' ? 'rotated' : 'rotated_unverified';
      metrics.credentialRotations.labels(provider.name, 'api', result).inc();
      log.info({ org, credential: id, provider: provider.name, ...keys, result }, 'org credential rotated');
      return { credential: view(updated), verification };
    });
  }

  /** Runs the provider's validation call for a secret that is not stored, as `org` would use it. */
  async test(org: string, input: CredentialInput): Promise<Verification> {
    const candidate: Credential = {
      id: 'test-temporary',
      provider: input.provider.name,
      billing: 'byok',
      secret: input.secret,
      unavailable: null,
      baseUrl: input.baseUrl,
      region: input.region,
      apiVersion: input.apiVersion,
      source: 'api',
      org,
      isDefault: false,
    };
    const runtime = this.#deps.holder.current;
    const verification = await verifyCredential(input.provider, runtime.credentials.effective(candidate), this.#deps.send, undefined, verificationPolicy(runtime.config));
    this.#deps.metrics.credentialVerifications.labels(input.provider.name, verification.result).inc();
    return verification;
  }

  #owned(org: string, id: string): StoredCredential {
    const record = this.#records.get(id);
    // Another org's credential is reported as missing: its existence is not the caller's business.
    if (!record || record.org !== org) throw new GatewayError('credential_not_found', `No credential '${id}' in this organization.`);
    return record;
  }

  /**
   * Takes the records another replica wrote (shared state): what changed is unsealed and swapped
   * into the runtime as one new snapshot, what is gone is dropped; requests in flight keep theirs.
   */
  adopt(records: readonly StoredCredential[]): Promise<void> {
    return this.#serially(async () => {
      const { vault, holder, log } = this.#deps;
      const next = new Map(records.map((r) => [r.id, r]));
      const changed = records.filter((r) => {
        const old = this.#records.get(r.id);
        return !old || old.updated_at !== r.updated_at || old.fingerprint !== r.fingerprint || old.is_default !== r.is_default;
      });
      const gone = [...this.#records.keys()].filter((id) => !next.has(id));
      if (changed.length === 0 && gone.length === 0) return;
      const credentials = changed.flatMap((r) => {
        try {
          return [OrgCredentials.credentialOf(r, vault.unseal(r, r.sealed))];
        } catch {
          log.error({ credential: r.id, org: r.org }, 'a shared org credential cannot be decrypted here: is credential_store.key the same on every replica?');
          next.delete(r.id);
          return [];
        }
      });
      this.#records = next;
      const runtime = holder.current;
      let store = runtime.credentials;
      for (const id of gone) store = store.without(id);
      holder.swap(withCredentials(runtime, store.with(...credentials)));
      log.info({ changed: credentials.map((c) => c.id), removed: gone }, 'org credentials changed on another replica: now in use here');
    });
  }

  /** Persists `next` (or, with shared state, `delta`), then swaps the runtime's store; nothing changes if the write fails. */
  async #commit(next: Map<string, StoredCredential>, change: (store: CredentialStore) => CredentialStore, delta: RecordChange): Promise<void> {
    try {
      if (this.#deps.shared) await this.#deps.shared.write(delta);
      else await this.#deps.vault.save([...next.values()]);
    } catch (err) {
      this.#deps.log.error({ err: String(err), path: this.#deps.shared ? 'redis' : this.#deps.vault.path }, 'credential store write failed: nothing was changed');
      throw new GatewayError('credential_store_unavailable', 'The credential store could not be written; nothing was changed.');
    }
    this.#records = next;
    const { holder } = this.#deps;
    const runtime = holder.current;
    holder.swap(withCredentials(runtime, change(runtime.credentials)));
  }

  #serially<T>(task: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(task);
    this.#queue = run.catch(() => undefined);
    return run;
  }
}

function view(r: StoredCredential): CredentialView {
  return {
    id: r.id,
    name: r.name,
    provider_name: r.provider,
    org_id: r.org,
    auth_type: r.auth_type,
    billing: 'byok',
    base_url: r.base_url,
    region: r.region,
    api_version: r.api_version,
    is_default: r.is_default,
    fingerprint: r.fingerprint,
    created_at: r.created_at,
    updated_at: r.updated_at,
  };
}
