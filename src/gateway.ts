/**
 * Assembles a running gateway from a config file: runtime, services, both listeners. Used by
 * `tollbooth serve` and by the tests, so the tests run the real thing.
 */
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { loadConfig } from './config/load.ts';
import { buildRuntime, RuntimeHolder } from './config/runtime.ts';
import { Meter } from './metering/meter.ts';
import type { UsageRecorder } from './metering/record.ts';
import { UsageLog } from './metering/usage-log.ts';
import { createMetrics } from './metrics/registry.ts';
import { createOpsServer } from './server/ops-server.ts';
import { createProxyServer } from './server/proxy-server.ts';
import type { Services } from './server/services.ts';
import { Upstream } from './upstream/transport.ts';
import { createLogger, type Logger } from './util/log.ts';

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
  /** Stops accepting, lets in-flight requests finish (up to `graceMs`), flushes the usage log. */
  close(graceMs?: number): Promise<void>;
}

export async function startGateway(configFile: string, options: GatewayOptions = {}): Promise<Gateway> {
  const loaded = loadConfig(configFile);
  const runtime = buildRuntime(loaded, options.env);
  const config = runtime.config;
  const log = options.logger ?? createLogger(config.log.level);
  const metrics = createMetrics();
  const recorder = options.recorder ?? new UsageLog(config.ledger.dir);
  const upstream = new Upstream(config.upstream);
  const services: Services = { runtime: new RuntimeHolder(runtime), upstream, meter: new Meter(recorder, metrics, log), metrics, log };

  const unavailable = runtime.credentials.all().filter((c) => c.unavailable !== null);
  if (unavailable.length > 0) {
    log.warn(
      { credentials: unavailable.map((c) => ({ id: c.id, provider: c.provider, reason: c.unavailable })) },
      `${unavailable.length} credential(s) unavailable: their providers answer 503 until the secret is provided`,
    );
  }

  let draining = false;
  const proxy = createProxyServer(services);
  const ops = createOpsServer(services, { checks: () => ({ config_loaded: true, proxy_listening: proxy.listening, accepting: !draining }) });
  const proxyUrl = await listen(proxy, config.listeners.proxy.host, options.proxyPort ?? config.listeners.proxy.port);
  const opsUrl = await listen(ops, config.listeners.ops.host, options.opsPort ?? config.listeners.ops.port);
  log.info({ proxy: proxyUrl, ops: opsUrl, providers: runtime.catalog.providers.size, models: runtime.catalog.models.size }, 'tollbooth listening');

  return {
    services,
    recorder,
    proxyUrl,
    opsUrl,
    async close(graceMs = 10_000) {
      draining = true;
      const closed = Promise.all([closeServer(proxy), closeServer(ops)]);
      proxy.closeIdleConnections();
      const timer = setTimeout(() => proxy.closeAllConnections(), graceMs);
      await closed;
      clearTimeout(timer);
      await upstream.close();
      await recorder.close();
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
