/**
 * The real Redis the shared-state tests need. `.ci/run` starts Debian's redis-server on a random
 * port and passes its URL as TOLLBOOTH_TEST_REDIS_URL; without it those tests skip and say why.
 */
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { RedisStateStore, type RedisStoreOptions } from '../../src/state/redis/redis-store.ts';

export const REDIS_URL = process.env.TOLLBOOTH_TEST_REDIS_URL ?? null;

/** For `{ skip: REDIS_SKIP }`: false when Redis is there, else the reason the test is skipped. */
export const REDIS_SKIP: false | string = REDIS_URL
  ? false
  : 'needs a Redis server: set TOLLBOOTH_TEST_REDIS_URL (bash .ci/run starts one)';

/** A key prefix no other test uses, so tests share one server without seeing each other. */
export function uniquePrefix(): string {
  return `t${randomUUID().slice(0, 8)}`;
}

export async function connectStore(options: Partial<RedisStoreOptions> = {}): Promise<RedisStateStore> {
  const store = new RedisStateStore({
    url: REDIS_URL!,
    keyPrefix: uniquePrefix(),
    instanceId: 'test',
    commandTimeoutMs: 5000,
    connectTimeoutMs: 5000,
    settledTtlSeconds: 3600,
    ...options,
  });
  await store.connect();
  return store;
}

/** A plain client, for looking at what the scripts wrote. */
export function rawClient(): Redis {
  return new Redis(REDIS_URL!, { lazyConnect: false });
}
