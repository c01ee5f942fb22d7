/**
 * Assembles a running gateway from a config file: runtime, services, both listeners. Used by
 * `tollbooth serve` and by the tests, so the tests run the real thing.
 */
import { once } from 'node:events';
import { statfs } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { loadConfig } from './config/load.ts';
import { startLiveUpdates, storedCredentials } from './runtime/live-updates.ts';
import type { ReloadResult } from './runtime/reload.ts';
import { buildRuntime, RuntimeHolder } from './runtime/runtime.ts';
import { CredentialVault } from './credentials/vault.ts';
import { CredentialStore } from './credentials/store.ts';
import { Meter } from './metering/meter.ts';
import { PICO_PER_CREDIT } from './metering/credits.ts';
import type { UsageRecorder } from './metering/record.ts';
import { Ledger, ledgerSettings } from './metering/ledger/ledger.ts';
import { AdmissionGate } from './admission/gate.ts';
import { planOf } from './admission/plans.ts';
import { createMetrics } from './metrics/registry.ts';
import { registerCredentialRoutes } from './server/admin/credentials.ts';
import { registerHealthRoutes } from './server/admin/health.ts';
import { registerIntegrationRoutes } from './server/admin/integrations.ts';
import { registerWalletRoutes } from './server/admin/wallets.ts';
import { AdminRouter } from './server/admin/router.ts';
import { createOpsServer } from './server/ops-server.ts';
import { createProxyServer } from './server/proxy-server.ts';
import type { Services } from './server/services.ts';
import { RoutingHealth } from './routing/routing-health.ts';
import { Upstream } from './upstream/transport.ts';
import { createLogger, type Logger, withoutRedaction } from './util/log.ts';
import { openStateStore } from './state/open.ts';
import { ChargeBook } from './state/charge-book.ts';
import { instanceId } from './state/instance.ts';
import type { RedisStateStore } from './state/redis/redis-store.ts';
import { SharedCredentialRecords } from './credentials/shared-records.ts';
import { startTracing } from './telemetry/tracing.ts';

export interface GatewayOptions {
  /** Overrides for the listeners' ports (tests use 0). */
  proxyPort?: number;
  opsPort?: number;
  env?: NodeJS.ProcessEnv;
  logger?: Logger;
  recorder?: UsageRecorder;
}

export interface Gateway {
  services: Services;
  recorder: UsageRecorder;
  proxyUrl: string;
  opsUrl: string;
  /** Reloads the config and re-checks mounted secrets now (SIGHUP); the last good config stays on failure. */
  reload(trigger?: string): Promise<ReloadResult>;
  /** Stops accepting, lets in-flight requests finish (up to `graceMs`), flushes the ledger. */
  close(graceMs?: number): Promise<void>;
}

export async function startGateway(configFile: string, options: GatewayOptions = {}): Promise<Gateway> {
  const loaded = loadConfig(configFile);
  const env = options.env ?? process.env;
  // Org credentials from the encrypted store join the first runtime; an unreadable store stops the start.
  const vault = new CredentialVault(loaded.config.credential_store, env);
  // With shared state the org credentials are Redis' (read below, before listening), not this pod's file.
  const stored = loaded.config.state.mode === 'redis' ? { store: new CredentialStore([]), records: [] } : storedCredentials(vault);
  const runtime = buildRuntime(loaded, env, stored.store);
  const config = runtime.config;
  const log = options.logger ?? createLogger(config.log.level);
  const metrics = createMetrics();
  const holder = new RuntimeHolder(runtime);
  const allowanceOf = (org: string) => planOf(holder.current.config, org)?.allowance ?? null;
  const ledger = await Ledger.open({ ...ledgerSettings(config.ledger), instance: instanceId(config), allowanceOf, metrics, log });
  const store = await openStateStore({ config, env, ledger, metrics, log });
  const book = new ChargeBook({ store, ledger, instance: instanceId(config), allowanceOf, log, metrics });
  if (store.kind === 'redis') book.resumeUnsettled(config.state.redis.settled_ttl_s * 1000);
  const grantConfig = () =>
    book.applyConfigGrants(holder.current.config.orgs).catch((err: unknown) => log.error({ err: String(err) }, 'config wallet grants could not be recorded yet; retried when the state store is back'));
  store.onAvailable?.(() => void grantConfig());
  await grantConfig();
  const recorder = options.recorder ?? book;
  const upstream = new Upstream(config.upstream);
  // Off unless configured; only then is OpenTelemetry loaded at all. Read at start (a restart applies a change).
  const tracing = await startTracing(config.telemetry.traces, env, instanceId(config), log);
  const services: Services = {
    runtime: holder,
    upstream,
    meter: new Meter(recorder, metrics, log),
    ledger,
    book,
    admission: new AdmissionGate({ store, holdTtlMs: config.state.hold_ttl_ms, metrics }),
    metrics,
    log,
    accessLog: withoutRedaction(log),
    health: new RoutingHealth(config.routing),
    tracing,
  };
  metrics.sources.health = () => services.health.snapshot();
  metrics.sources.ledgerWritable = () => ledger.failure === null;
  metrics.sources.ledgerVolume = async () => {
    const fs = await statfs(config.ledger.dir);
    return { free: fs.bavail * fs.bsize, size: fs.blocks * fs.bsize };
  };
  metrics.sources.orgCredits = () =>
    Promise.all(
      holder.current.config.orgs
        .filter((o) => planOf(holder.current.config, o.id) !== null)
        .map(async (o) => {
          const b = await book.balance(o.id);
          return { org: o.id, credits: Number(b.spendable - b.held) / Number(PICO_PER_CREDIT) };
        }),
    );

  const unavailable = runtime.credentials.all().filter((c) => c.unavailable !== null);
  if (unavailable.length > 0) {
    // Short and actionable: where each missing secret goes (env NAME, file PATH), the first few in the message.
    const where = unavailable.map((c) => c.source);
    log.warn(
      { unavailable: Object.fromEntries(unavailable.map((c) => [c.id, c.source])) },
      `${unavailable.length} credential(s) have no secret, so their providers answer 503: provide ${where.slice(0, 3).join(', ')}${where.length > 3 ? ` and ${where.length - 3} more` : ''}`,
    );
  }

  let draining = false;
  const proxy = createProxyServer(services);
  const admin = new AdminRouter();
  registerIntegrationRoutes(admin);
  registerWalletRoutes(admin);
  registerHealthRoutes(admin);
  const shared = store.kind === 'redis' ? new SharedCredentialRecords((store as unknown as RedisStateStore).client, config.state.redis.key_prefix) : undefined;
  const live = startLiveUpdates({ configFile, services, vault, records: stored.records, env, ownsLogger: options.logger === undefined, shared });
  if (shared) {
    // Before listening: an org's own credentials are in use from the first request.
    await shared.read().then(
      (records) => live.credentials.adopt(records),
      (err: unknown) => log.error({ err: String(err) }, 'org credentials could not be read from Redis; they are taken up once it answers'),
    );
    shared.watch((records) => void live.credentials.adopt(records));
  }
  registerCredentialRoutes(admin, live.credentials);
  const ops = createOpsServer(services, { checks: () => ({ config_loaded: true, proxy_listening: proxy.listening, accepting: !draining, ledger_writable: ledger.failure === null }) }, admin);
  const proxyUrl = await listen(proxy, config.listeners.proxy.host, options.proxyPort ?? config.listeners.proxy.port);
  const opsUrl = await listen(ops, config.listeners.ops.host, options.opsPort ?? config.listeners.ops.port);
  log.info({ proxy: proxyUrl, ops: opsUrl, providers: runtime.catalog.providers.size, models: runtime.catalog.models.size }, 'tollbooth listening');

  return {
    services,
    recorder,
    proxyUrl,
    opsUrl,
    reload: (trigger = 'SIGHUP') => live.reload(trigger),
    async close(graceMs = 10_000) {
      draining = true;
      live.close();
      const closed = Promise.all([closeServer(proxy), closeServer(ops)]);
      proxy.closeIdleConnections();
      const timer = setTimeout(() => proxy.closeAllConnections(), graceMs);
      await closed;
      clearTimeout(timer);
      await upstream.close();
      // Every span has ended with its response: send what the batch still holds.
      await tracing?.shutdown();
      await recorder.close();
      if (recorder !== book) await book.close();
      await store.close();
    },
  };
}

async function listen(server: Server, host: string, port: number): Promise<string> {
  server.listen(port, host);
  await once(server, 'listening');
  const address = server.address() as AddressInfo;
  const h = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return `http://${h}:${address.port}`;
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}
