/**
 * The real Redis the shared-state tests need. `.ci/run` starts Debian's redis-server on a random
 * port and passes its URL as TOLLBOOTH_TEST_REDIS_URL; without it those tests skip and say why.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { Redis } from 'ioredis';
import { RedisStateStore, type RedisStoreOptions } from '../../src/state/redis/redis-store.ts';
import { readLedger } from './ledger.ts';

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

const REDIS_SERVER = process.env.TOLLBOOTH_TEST_REDIS_SERVER ?? 'redis-server';
const CLI = new URL('../../src/cli.ts', import.meta.url).pathname;

export async function freePort(): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  server.close();
  return port;
}

/** A Redis of a test's own (to stop and restart), on `port`, its files in `dir`; AOF when persistent. */
export function startRedisServer(port: number, dir: string, persistent = false): ChildProcess {
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', ''];
  args.push(...(persistent ? ['--appendonly', 'yes', '--appendfsync', 'always'] : ['--appendonly', 'no']));
  return spawn(REDIS_SERVER, args, { stdio: 'ignore' });
}

/** `tollbooth …` as an operator runs it. */
export function tollbooth(args: string[]): { code: number | null; out: string } {
  const run = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8' });
  return { code: run.status, out: run.stdout + run.stderr };
}

/** Every entry of the ledger files in `dir`, in full (any line format); a torn last line (a killed writer) is skipped. */
export function ledgerEntries(dir: string): Array<Record<string, unknown>> {
  return readLedger(dir) as unknown as Array<Record<string, unknown>>;
}
