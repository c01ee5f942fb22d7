/**
 * GitOps hot reload: when the mounted config or catalog changes (watched, see config/watch.ts) or on
 * SIGHUP, the whole config is loaded and validated first, a new Runtime is built and swapped in one
 * reference. An invalid config changes nothing: the last good one keeps serving, the problems are
 * logged and tollbooth_config_reloads_total{result="failure"} counts it. Requests in flight finish
 * under the runtime they started with. The credentials in use carry over (see CredentialStore).
 */
import { join } from 'node:path';
import type { Metrics } from '../metrics/registry.ts';
import type { Logger } from '../util/log.ts';
import { loadConfig } from '../config/load.ts';
import { ConfigError, formatProblem } from '../config/problems.ts';
import { buildRuntime, type Runtime, type RuntimeHolder } from './runtime.ts';
import type { TollboothConfig } from '../config/types.ts';
import { FileWatch } from '../config/watch.ts';

export type ReloadResult = { ok: true; runtime: Runtime } | { ok: false; problems: string[] };

export interface ReloaderDeps {
  file: string;
  holder: RuntimeHolder;
  env: NodeJS.ProcessEnv;
  log: Logger;
  metrics: Metrics;
  /** Runs after every swap (re-arm the secret watch, apply the log level, …). */
  onSwap(runtime: Runtime, previous: Runtime): void;
}

/** Settings read once at start (routing: the health policy is built once): a change is reported, and waits for a restart. */
const RESTART_ONLY = ['listeners', 'ledger', 'upstream', 'routing', 'credential_store', 'telemetry'] as const satisfies readonly (keyof TollboothConfig)[];

export class ConfigReloader {
  readonly #deps: ReloaderDeps;
  readonly #inEffect: Record<string, string>;
  #watch: FileWatch | null = null;
  #watchKey = '';

  constructor(deps: ReloaderDeps) {
    this.#deps = deps;
    const config = deps.holder.current.config;
    this.#inEffect = Object.fromEntries(RESTART_ONLY.map((k) => [k, JSON.stringify(config[k])]));
    deps.metrics.configLoadedAt.set(deps.holder.current.loadedAt.getTime() / 1000);
    this.#arm(deps.holder.current);
  }

  /** Loads, validates and swaps the config; on any problem keeps the current one. */
  reload(trigger: string): ReloadResult {
    const { holder, log, metrics } = this.#deps;
    const previous = holder.current;
    let next: Runtime;
    try {
      next = buildRuntime(loadConfig(this.#deps.file), this.#deps.env, previous.credentials);
    } catch (err) {
      const problems = err instanceof ConfigError ? err.problems.map(formatProblem) : [`the config could not be loaded: ${(err as Error).message}`];
      metrics.configReloads.labels('failure').inc();
      log.error({ trigger, problems }, `config reload failed (${problems.length} problem(s)): the last good config stays in effect`);
      this.#arm(previous);
      return { ok: false, problems };
    }
    holder.swap(next);
    metrics.configReloads.labels('success').inc();
    metrics.configLoadedAt.set(next.loadedAt.getTime() / 1000);
    const pending = RESTART_ONLY.filter((k) => JSON.stringify(next.config[k]) !== this.#inEffect[k]);
    log.info({ trigger, providers: next.catalog.providers.size, models: next.catalog.models.size }, 'config reloaded');
    if (pending.length > 0) {
      log.warn({ settings: pending }, `config changed settings that take effect only after a restart (${pending.join(', ')}): the running values stay`);
    }
    this.#deps.onSwap(next, previous);
    this.#arm(next);
    return { ok: true, runtime: next };
  }

  close(): void {
    this.#watch?.close();
    this.#watch = null;
  }

  /** Watches the files the config in effect was read from (they may change with a reload). */
  #arm(runtime: Runtime): void {
    const { watch, catalog } = runtime.config;
    const key = `${watch.enabled}:${watch.debounce_ms}:${watch.poll_interval_ms}`;
    if (!watch.enabled || key !== this.#watchKey) {
      this.#watch?.close();
      this.#watch = null;
    }
    this.#watchKey = key;
    if (!watch.enabled) return;
    const targets = { files: runtime.files, dirs: [join(catalog, 'models')] };
    if (this.#watch) this.#watch.setTargets(targets);
    else this.#watch = new FileWatch(targets, () => void this.reload('watch'), { debounceMs: watch.debounce_ms, pollMs: watch.poll_interval_ms });
  }
}
