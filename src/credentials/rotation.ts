/**
 * Zero-downtime rotation of file-sourced secrets (mounted Kubernetes Secrets). When a watched
 * file's content changes, the new key is verified with the provider's validation call first; only a
 * key the provider accepts is swapped in, as a new runtime snapshot: requests already running keep
 * the runtime (and so the key) they started with, new requests take the new key at once. A refused
 * key is never activated: the old one stays, and a log line and tollbooth_credential_rotations_total
 * say why. Environment-sourced secrets cannot change while the process runs.
 */
import { withCredentials, type Runtime, type RuntimeHolder } from '../runtime/runtime.ts';
import type { WatchConfig } from '../config/types.ts';
import { FileWatch, fileSignature } from '../config/watch.ts';
import type { Metrics } from '../metrics/registry.ts';
import type { Logger } from '../util/log.ts';
import { fingerprint } from './fingerprint.ts';
import { fileSource } from './sources.ts';
import { verifyCredential, type Send } from './verify.ts';

export interface RotatorDeps {
  holder: RuntimeHolder;
  send: Send;
  metrics: Metrics;
  log: Logger;
}

export type RotationResult = 'unchanged' | 'rotated' | 'rotated_unverified' | 'rejected' | 'unverified' | 'unreadable' | 'skipped';

interface Tracked {
  path: string;
  provider: string;
  /** The file state last acted on: a rejected key is not verified again until the file changes. */
  signature: string | null;
  running: Promise<RotationResult> | null;
  again: boolean;
  /** Consecutive checks without a verdict (provider unreachable), for the retry backoff. */
  failures: number;
  retry: NodeJS.Timeout | undefined;
}

const MAX_RETRY_MS = 5 * 60_000;

export class CredentialRotator {
  readonly #deps: RotatorDeps;
  #tracked = new Map<string, Tracked>();
  #watch: FileWatch | null = null;
  #watchKey = '';
  #pollMs = 10_000;

  constructor(deps: RotatorDeps) {
    this.#deps = deps;
    const runtime = deps.holder.current;
    const fromEnv = runtime.config.credentials.filter((c) => c.secret !== null && 'env' in c.secret).map((c) => c.id);
    if (fromEnv.length > 0) {
      deps.log.info({ credentials: fromEnv }, 'credentials read from environment variables cannot change while running: rotate them with a restart, or mount them as files');
    }
    this.sync(runtime);
  }

  /** Follows the file-sourced credentials of `runtime`'s config: at start and after every reload. */
  sync(runtime: Runtime): void {
    const next = new Map<string, Tracked>();
    for (const c of runtime.config.credentials) {
      if (c.secret === null || !('file' in c.secret)) continue;
      const prior = this.#tracked.get(c.id);
      if (prior && prior.path === c.secret.file && prior.provider === c.provider) {
        next.set(c.id, prior);
        continue;
      }
      if (prior) clearTimeout(prior.retry);
      next.set(c.id, { path: c.secret.file, provider: c.provider, signature: fileSignature(c.secret.file), running: null, again: false, failures: 0, retry: undefined });
    }
    for (const [id, t] of this.#tracked) if (!next.has(id)) clearTimeout(t.retry);
    this.#tracked = next;
    this.#arm(runtime.config.watch);
  }

  /** Checks every file-sourced secret now (SIGHUP does this); resolves with each result. */
  async checkAll(): Promise<Record<string, RotationResult>> {
    const ids = [...this.#tracked.keys()];
    const results = await Promise.all(ids.map((id) => this.check(id)));
    return Object.fromEntries(ids.map((id, i) => [id, results[i]!]));
  }

  /** Checks one credential's file; concurrent calls share one run (and ask for one more after it). */
  check(id: string): Promise<RotationResult> {
    const t = this.#tracked.get(id);
    if (!t) return Promise.resolve('skipped');
    if (t.running) {
      t.again = true;
      return t.running;
    }
    const run = async (): Promise<RotationResult> => {
      let result: RotationResult;
      do {
        t.again = false;
        try {
          result = await this.#rotate(id, t);
        } catch (err) {
          // Never let a failed check take the process down: the current key stays, the next change retries.
          this.#deps.log.error({ err, credential: id }, 'credential rotation check failed: the current key stays active');
          result = 'skipped';
        }
      } while (t.again);
      return result;
    };
    t.running = run().finally(() => {
      t.running = null;
    });
    return t.running;
  }

  close(): void {
    this.#watch?.close();
    this.#watch = null;
    for (const t of this.#tracked.values()) clearTimeout(t.retry);
  }

  #arm(watch: WatchConfig): void {
    const files = [...this.#tracked.values()].map((t) => t.path);
    const key = `${watch.enabled}:${watch.debounce_ms}:${watch.poll_interval_ms}`;
    if (!watch.enabled || files.length === 0 || key !== this.#watchKey) {
      this.#watch?.close();
      this.#watch = null;
    }
    this.#watchKey = key;
    this.#pollMs = watch.poll_interval_ms;
    if (!watch.enabled || files.length === 0) return;
    if (this.#watch) this.#watch.setTargets({ files });
    else this.#watch = new FileWatch({ files }, () => void this.checkAll(), { debounceMs: watch.debounce_ms, pollMs: watch.poll_interval_ms });
  }

  async #rotate(id: string, t: Tracked): Promise<RotationResult> {
    const { holder, log, metrics } = this.#deps;
    const signature = fileSignature(t.path);
    if (signature === t.signature) return 'unchanged';
    const runtime = holder.current;
    const active = runtime.credentials.get(id);
    const provider = runtime.catalog.provider(t.provider);
    if (!active || !provider) return 'skipped';
    const context = { credential: id, provider: t.provider, source: active.source };
    const count = (result: RotationResult) => metrics.credentialRotations.labels(t.provider, id, result).inc();

    const reading = fileSource(t.path).read();
    if (!reading.ok) {
      t.signature = signature;
      count('unreadable');
      log.warn({ ...context, reason: reading.reason, active: fingerprint(active.secret) }, 'credential secret file changed but cannot be used: the current key stays active');
      return 'unreadable';
    }
    if (active.secret?.reveal() === reading.secret.reveal()) {
      t.signature = signature;
      return 'unchanged';
    }
    const candidate = { ...active, secret: reading.secret, unavailable: null };
    const keys = { active: fingerprint(active.secret), candidate: fingerprint(reading.secret) };
    const verdict = await verifyCredential(provider, candidate, this.#deps.send);
    metrics.credentialVerifications.labels(t.provider, verdict.result).inc();

    if (verdict.result === 'invalid') {
      t.signature = signature;
      t.failures = 0;
      count('rejected');
      log.warn({ ...context, ...keys, reason: verdict.reason }, 'new credential secret failed verification: not activated, the current key stays active');
      return 'rejected';
    }
    if (verdict.result === 'unreachable') {
      this.#retryLater(id, t);
      count('unverified');
      log.warn({ ...context, ...keys, reason: verdict.reason, retry_in_ms: this.#retryDelay(t) }, 'new credential secret could not be verified: not activated yet, the current key stays active');
      return 'unverified';
    }

    // Swap against the runtime current now: a reload may have happened during the verification.
    const now = holder.current;
    const current = now.credentials.get(id);
    if (!current || current.source !== active.source || current.provider !== active.provider) {
      log.info(context, 'credential was reconfigured while its new secret was being verified: rotation skipped');
      return 'skipped';
    }
    holder.swap(withCredentials(now, now.credentials.with({ ...current, secret: reading.secret, unavailable: null })));
    t.signature = signature;
    t.failures = 0;
    clearTimeout(t.retry);
    if (verdict.result === 'unsupported') {
      count('rotated_unverified');
      log.warn({ ...context, ...keys, reason: verdict.reason }, 'credential rotated without verification: the provider offers no validation call');
      return 'rotated_unverified';
    }
    count('rotated');
    log.info({ ...context, ...keys }, 'credential rotated: the new key was verified and is now active for new requests');
    return 'rotated';
  }

  /** No verdict yet: try again later (the file watch does not fire again for the same file). */
  #retryLater(id: string, t: Tracked): void {
    t.failures += 1;
    clearTimeout(t.retry);
    t.retry = setTimeout(() => void this.check(id), this.#retryDelay(t));
    t.retry.unref();
  }

  #retryDelay(t: Tracked): number {
    return Math.min(this.#pollMs * 2 ** Math.max(0, t.failures - 1), MAX_RETRY_MS);
  }
}
