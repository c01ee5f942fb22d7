/**
 * Everything that changes a running gateway without a restart, wired together: the config reload
 * (watched ConfigMap, SIGHUP), the rotation of file-sourced secrets (watched Secrets), and the org
 * credentials of the admin API. They all change the gateway the same way: a new Runtime swapped in
 * RuntimeHolder, so a request keeps the snapshot it started with.
 */
import { CredentialRotator, type RotationResult } from '../credentials/rotation.ts';
import { OrgCredentials } from '../credentials/org-credentials.ts';
import { CredentialStore } from '../credentials/store.ts';
import type { CredentialVault, StoredCredential } from '../credentials/vault.ts';
import type { SharedCredentialRecords } from '../credentials/shared-records.ts';
import { initialiseSeries } from '../metrics/registry.ts';
import type { Services } from '../server/services.ts';
import type { Runtime } from './runtime.ts';
import { ConfigReloader, type ReloadResult } from './reload.ts';

export interface LiveUpdates {
  credentials: OrgCredentials;
  /** Reloads the config, then re-checks every mounted secret (what SIGHUP does). */
  reload(trigger: string): Promise<ReloadResult & { secrets: Record<string, RotationResult> }>;
  close(): void;
}

/** The org credentials stored in the vault, as the store a first runtime is built upon. */
export function storedCredentials(vault: CredentialVault): { store: CredentialStore; records: StoredCredential[] } {
  const loaded = vault.load();
  return {
    store: new CredentialStore(loaded.map(({ record, secret }) => OrgCredentials.credentialOf(record, secret))),
    records: loaded.map(({ record }) => record),
  };
}

export interface LiveUpdateOptions {
  configFile: string;
  services: Services;
  vault: CredentialVault;
  /** What the vault held at start (see storedCredentials). */
  records: StoredCredential[];
  env: NodeJS.ProcessEnv;
  /** Whether a reload may change the log level (not when the logger was handed in, as tests do). */
  ownsLogger: boolean;
  /** With shared state: org credentials live in Redis for every replica. */
  shared?: SharedCredentialRecords;
}

/** The label sets a runtime makes known in advance (metrics/registry.ts initialiseSeries). */
function knownSeries(runtime: Runtime) {
  const models = [...runtime.catalog.models.values()].filter((m) => m.status !== 'retired');
  return { credentials: runtime.config.credentials, models, stateMode: runtime.config.state.mode };
}

export function startLiveUpdates(options: LiveUpdateOptions): LiveUpdates {
  const { services, vault } = options;
  const { runtime: holder, upstream, metrics, log } = services;
  const send = upstream.send.bind(upstream);
  const rotator = new CredentialRotator({ holder, send, metrics, log });
  initialiseSeries(metrics, knownSeries(holder.current));
  const reloader = new ConfigReloader({
    file: options.configFile,
    holder,
    env: options.env,
    log,
    metrics,
    onSwap(runtime) {
      rotator.sync(runtime);
      initialiseSeries(metrics, knownSeries(runtime));
      // Wallet grants added to the YAML are recorded once, like those present at start.
      void services.book.applyConfigGrants(runtime.config.orgs).catch((err: unknown) => log.error({ err }, 'config wallet grants could not be recorded'));
      if (options.ownsLogger) log.level = runtime.config.log.level;
    },
  });
  if (vault.unavailable !== null) {
    log.warn({ path: vault.path, reason: vault.unavailable }, 'the credential API cannot store org credentials until credential_store.key is set (32 random bytes, base64: openssl rand -base64 32)');
  } else {
    log.info({ path: options.shared ? 'redis' : vault.path, credentials: options.records.length }, 'credential store opened');
  }
  const credentials = new OrgCredentials({ vault, holder, send, metrics, log, shared: options.shared }, options.records);
  return {
    credentials,
    async reload(trigger) {
      const result = reloader.reload(trigger);
      return { ...result, secrets: await rotator.checkAll() };
    },
    close() {
      reloader.close();
      rotator.close();
      options.shared?.close();
    },
  };
}
