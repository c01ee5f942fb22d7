/**
 * Opens the state store the config names. With `state: redis`, a Redis that cannot be reached at
 * start does not stop the start: the sidecar serves (BYOK calls, readiness up, so the kubelet does
 * not restart every pod at once) and managed calls are denied until Redis answers; a metric and a
 * log line say which mode is in force.
 */
import type { TollboothConfig, SecretRef } from '../config/types.ts';
import { sourceFor } from '../credentials/sources.ts';
import type { Ledger } from '../metering/ledger/ledger.ts';
import type { Metrics } from '../metrics/registry.ts';
import type { Logger } from '../util/log.ts';
import { MemoryStateStore } from './memory-store.ts';
import type { RedisStateStore } from './redis/redis-store.ts';
import type { StateStore } from './store.ts';
import { instanceId } from './instance.ts';

export interface OpenStateOptions {
  config: TollboothConfig;
  env: NodeJS.ProcessEnv;
  ledger: Ledger;
  metrics: Metrics;
  log: Logger;
}

export async function openStateStore({ config, env, ledger, metrics, log }: OpenStateOptions): Promise<StateStore> {
  const { state } = config;
  if (state.mode === 'memory') {
    metrics.stateStoreAvailable.labels('memory').set(1);
    return new MemoryStateStore(ledger.accounts);
  }
  const redis = await redisStoreFor(config, env, (available) => {
    metrics.stateStoreAvailable.labels('redis').set(available ? 1 : 0);
    if (available) {
      log.info({ url: state.redis.url }, 'state: Redis reachable: credits, holds and limits are shared by every replica');
    } else {
      log.error({ url: state.redis.url }, 'state: Redis unreachable: managed calls are denied (503, layer state) and BYOK calls use per-process limits until it is back');
    }
  }, (operation) => metrics.stateStoreCalls.labels(operation).inc());
  metrics.stateStoreAvailable.labels('redis').set(0);
  try {
    await redis.connect();
  } catch (err) {
    if (/too old/.test(String(err))) throw err;
    log.error({ url: state.redis.url, err: String(err) }, 'state: Redis unreachable at start: serving, with managed calls denied until it answers');
  }
  return redis;
}

/** The Redis store the config's `state.redis` names (not connected yet). */
export async function redisStoreFor(
  config: TollboothConfig,
  env: NodeJS.ProcessEnv,
  onAvailability?: (available: boolean) => void,
  onCall?: (operation: string) => void,
): Promise<RedisStateStore> {
  const { redis } = config.state;
  // Loaded only when used: a single-process sidecar never loads the Redis client.
  const { RedisStateStore } = await import('./redis/redis-store.ts');
  return new RedisStateStore({
    url: redis.url,
    tls: redis.tls || redis.url.startsWith('rediss:'),
    username: readSecret(redis.username, env, 'state.redis.username'),
    password: readSecret(redis.password, env, 'state.redis.password'),
    keyPrefix: redis.key_prefix,
    instanceId: instanceId(config),
    commandTimeoutMs: redis.command_timeout_ms,
    connectTimeoutMs: redis.connect_timeout_ms,
    settledTtlSeconds: redis.settled_ttl_s,
    onAvailability,
    onCall,
    onUnavailable: config.state.on_unavailable,
    leases: config.state.leases.enabled
      ? { holdsPerLease: config.state.leases.holds_per_lease, share: config.state.leases.share, idleMs: config.state.leases.idle_ms, holdTtlMs: config.state.hold_ttl_ms }
      : undefined,
  });
}

function readSecret(ref: SecretRef | null, env: NodeJS.ProcessEnv, what: string): string | undefined {
  if (ref === null) return undefined;
  const reading = sourceFor(ref, env).read();
  if (!reading.ok) throw new Error(`${what}: ${reading.reason}`);
  return reading.secret.reveal();
}
