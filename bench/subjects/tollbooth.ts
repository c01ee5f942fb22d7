/**
 * Tollbooth started exactly as production runs it — `bin/tollbooth serve --config <file>` (dist/,
 * rebuilt from src/ when stale, under the launcher's Node flags; see the script) with the repo's
 * Node 24 — from a temp config: the real catalog, managed OpenAI and Anthropic credentials
 * whose base URL is the fake upstream, one caller key, the usage log in the temp dir, and the log
 * level production has unless told otherwise (the schema default, `info`: one access line per
 * request). Its log goes to a file, as a container runtime would collect it.
 */
import { createHash } from 'node:crypto';
import { closeSync, openSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import type { BenchState } from '../options.ts';
import { freePort, waitForHttp, type Child, type ProcessGroup } from '../processes.ts';

const ROOT = new URL('../../', import.meta.url).pathname;
export const CALLER_KEY = 'tb-bench-caller-key';

export interface TollboothOptions {
  upstreamOrigin: string;
  dir: string;
  /** Unset: the production default. */
  logLevel: string | null;
  /**
   * Extra node flags (e.g. --cpu-prof), given as NODE_OPTIONS, which the launcher puts after its own
   * flags: they win, but must be flags NODE_OPTIONS allows.
   */
  nodeArgs: string[];
  /** Another checkout to run (its src/ and config/catalog), e.g. the code before a change. */
  root?: string | null;
  /** Process name in the harness's log (default 'tollbooth'). */
  name?: string;
  /** Shared state: the org gets a plan (every request holds and settles credits); redis needs `redisUrl`. */
  state?: BenchState | null;
  redisUrl?: string;
}

export interface RunningTollbooth {
  child: Child;
  origin: string;
  opsOrigin: string;
  logFile: string;
  /** The ledger directory (usage records). */
  dataDir: string;
  logLevel: string;
}

export async function startTollbooth(group: ProcessGroup, options: TollboothOptions): Promise<RunningTollbooth> {
  const [port, opsPort] = [await freePort(), await freePort()];
  const dataDir = join(options.dir, 'data');
  const root = options.root ?? ROOT;
  const config = {
    listeners: { proxy: { host: '127.0.0.1', port }, ops: { host: '127.0.0.1', port: opsPort } },
    catalog: join(root, 'config/catalog'),
    ledger: { dir: dataDir },
    auth: { mode: 'keys' },
    orgs: [{ id: 'bench', name: 'Bench', ...(options.state ? { plan: 'metered' } : {}) }],
    ...(options.state
      ? {
          plans: { metered: { allowance: { credits: '1000000000000', period: 'monthly' } } },
          state:
            options.state === 'memory'
              ? { mode: 'memory' }
              : { mode: 'redis', redis: { url: options.redisUrl, key_prefix: `bench${port}` }, leases: { enabled: options.state === 'redis' } },
        }
      : {}),
    keys: [{ id: 'bench-app', org: 'bench', role: 'member', hash: `sha256:${createHash('sha256').update(CALLER_KEY).digest('hex')}` }],
    credentials: [
      { id: 'openai', provider: 'openai', billing: 'managed', secret: { env: 'BENCH_OPENAI_KEY' }, base_url: `${options.upstreamOrigin}/v1` },
      { id: 'anthropic', provider: 'anthropic', billing: 'managed', secret: { env: 'BENCH_ANTHROPIC_KEY' }, base_url: `${options.upstreamOrigin}/v1` },
    ],
    ...(options.logLevel ? { log: { level: options.logLevel } } : {}),
  };
  const configFile = join(options.dir, 'tollbooth.yaml');
  writeFileSync(configFile, stringify(config));
  const logFile = join(options.dir, 'tollbooth.log');
  const fd = openSync(logFile, 'a');
  const nodeOptions = [process.env.NODE_OPTIONS ?? '', ...options.nodeArgs].join(' ').trim();
  const env = { ...process.env, BENCH_OPENAI_KEY: 'sk-bench-openai', BENCH_ANTHROPIC_KEY: 'sk-ant-bench', NODE_OPTIONS: nodeOptions };
  let child: Child;
  try {
    child = group.spawn(options.name ?? 'tollbooth', join(root, 'bin/tollbooth'), ['serve', '--config', configFile], { cwd: root, env, output: fd });
  } finally {
    closeSync(fd);
  }
  const opsOrigin = `http://127.0.0.1:${opsPort}`;
  try {
    await waitForHttp(`${opsOrigin}/readyz`, child);
  } catch (err) {
    throw new Error(`${(err as Error).message}\n--- tollbooth log ---\n${tail(logFile)}`);
  }
  return { child, origin: `http://127.0.0.1:${port}`, opsOrigin, logFile, dataDir, logLevel: options.logLevel ?? 'info (default)' };
}

export function tail(file: string, bytes = 2000): string {
  try {
    return readFileSync(file, 'utf8').slice(-bytes);
  } catch {
    return '';
  }
}

/**
 * Lines in the ledger directory's *.jsonl files (the usage log, or the ledger's segments): one per
 * settled exchange, proof that metering ran.
 */
export function usageRecords(dir: string): number {
  let n = 0;
  try {
    for (const name of readdirSync(dir).filter((f) => f.endsWith('.jsonl'))) {
      const text = readFileSync(join(dir, name), 'utf8');
      for (let i = text.indexOf('\n'); i !== -1; i = text.indexOf('\n', i + 1)) n++;
    }
  } catch {
    // no ledger yet
  }
  return n;
}

/** tollbooth_requests_total summed over its series, from the ops listener's /metrics. */
export async function requestsCounted(opsOrigin: string): Promise<number | null> {
  try {
    const text = await (await fetch(`${opsOrigin}/metrics`, { signal: AbortSignal.timeout(5000) })).text();
    let total = 0;
    for (const match of text.matchAll(/^tollbooth_requests_total\{[^}]*\} (\d+(?:\.\d+)?)$/gm)) total += Number(match[1]);
    return total;
  } catch {
    return null;
  }
}
