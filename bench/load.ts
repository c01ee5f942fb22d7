/**
 * Load generators: autocannon (programmatic, in this process) or wrk (when on the PATH). Each run
 * is a fixed duration at a fixed number of keep-alive connections. Latency comes at microsecond
 * precision: autocannon's own histogram keeps whole milliseconds, so its per-response times
 * (hrtime) are recorded here instead.
 */
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { createHistogram, type RecordableHistogram } from 'node:perf_hooks';
import autocannon from 'autocannon';
import type { HttpRequest } from './cases.ts';
import type { ProcessGroup } from './processes.ts';

export interface LoadSpec {
  origin: string;
  request: HttpRequest;
  connections: number;
  durationS: number;
}

export interface LoadResult {
  connections: number;
  durationS: number;
  /** 2xx responses. */
  requests: number;
  rps: number;
  non2xx: number;
  errors: number;
  p50Us: number;
  p99Us: number;
}

export interface LoadGenerator {
  name: string;
  /** Runs one window; with `latencies`, also records each response's latency (µs) there. */
  run(spec: LoadSpec, signal: AbortSignal, latencies?: RecordableHistogram): Promise<LoadResult>;
}

export function findWrk(): string | null {
  try {
    return execFileSync('sh', ['-c', 'command -v wrk'], { encoding: 'utf8' }).trim() || null;
  } catch {
    return null;
  }
}

export const autocannonGenerator: LoadGenerator = {
  name: `autocannon ${autocannonVersion()}`,
  async run(spec, signal, shared) {
    const latencies = createHistogram();
    let ok = 0;
    let non2xx = 0;
    const instance = autocannon({
      url: spec.origin + spec.request.path,
      method: spec.request.method,
      headers: spec.request.headers,
      body: spec.request.body,
      connections: spec.connections,
      duration: spec.durationS,
      timeout: 10,
      // autocannon checks for the end of the run once per sample: sample often, so short runs end on time.
      sampleInt: 100,
    });
    instance.on('response', (_client, status, _bytes, ms) => {
      if (status >= 200 && status < 300) {
        ok++;
        const micros = Math.max(1, Math.round(ms * 1000));
        latencies.record(micros);
        shared?.record(micros);
      } else non2xx++;
    });
    const stop = () => instance.stop();
    signal.addEventListener('abort', stop, { once: true });
    try {
      const result = await instance;
      const durationS = result.duration || spec.durationS;
      return {
        connections: spec.connections,
        durationS,
        requests: ok,
        rps: ok / durationS,
        non2xx,
        errors: result.errors + result.timeouts,
        p50Us: ok > 0 ? latencies.percentile(50) : 0,
        p99Us: ok > 0 ? latencies.percentile(99) : 0,
      };
    } finally {
      signal.removeEventListener('abort', stop);
    }
  },
};

function autocannonVersion(): string {
  return (createRequire(import.meta.url)('autocannon/package.json') as { version: string }).version;
}

/** wrk, one thread per core (at most one per connection), with a Lua script for the POST body. */
export function wrkGenerator(binary: string, group: ProcessGroup, dir: string): LoadGenerator {
  let scripts = 0;
  return {
    name: 'wrk',
    async run(spec, signal) {
      const script = join(dir, `wrk-${scripts++}.lua`);
      writeFileSync(script, luaScript(spec.request));
      const durationS = Math.max(1, Math.round(spec.durationS));
      const threads = String(Math.min(spec.connections, 2));
      const args = ['-t', threads, '-c', String(spec.connections), '-d', `${durationS}s`, '--latency', '--timeout', '10s', '-s', script, spec.origin + spec.request.path];
      const child = group.spawn('wrk', binary, args);
      let out = '';
      child.process.stdout?.setEncoding('utf8').on('data', (text: string) => (out += text));
      child.process.stderr?.setEncoding('utf8').on('data', (text: string) => (out += text));
      const kill = () => child.process.kill('SIGKILL');
      signal.addEventListener('abort', kill, { once: true });
      await child.exited;
      signal.removeEventListener('abort', kill);
      return parseWrk(out, spec.connections, durationS);
    },
  };
}

function luaScript(request: HttpRequest): string {
  if (request.body.includes(']==]')) throw new Error('request body cannot be quoted for wrk');
  const headers = Object.entries(request.headers).map(([k, v]) => `wrk.headers[${JSON.stringify(k)}] = ${JSON.stringify(v)}`);
  return [`wrk.method = ${JSON.stringify(request.method)}`, `wrk.body = [==[${request.body}]==]`, ...headers, ''].join('\n');
}

export function parseWrk(out: string, connections: number, durationS: number): LoadResult {
  const total = /(\d+) requests in ([\d.]+)(us|ms|s|m)/.exec(out);
  if (!total) throw new Error(`could not read wrk's output:\n${out}`);
  const seconds = toMicros(Number(total[2]), total[3]!) / 1e6;
  const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0);
  const socket = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  const errors = socket ? socket.slice(1).reduce((sum, n) => sum + Number(n), 0) : 0;
  const percentile = (p: string) => {
    const m = new RegExp(`^\\s*${p}%\\s+([\\d.]+)(us|ms|s)\\s*$`, 'm').exec(out);
    return m ? toMicros(Number(m[1]), m[2]!) : 0;
  };
  const requests = Number(total[1]) - non2xx;
  return { connections, durationS: seconds || durationS, requests, rps: requests / (seconds || durationS), non2xx, errors, p50Us: percentile('50'), p99Us: percentile('99') };
}

function toMicros(value: number, unit: string): number {
  return value * ({ us: 1, ms: 1e3, s: 1e6, m: 60e6 } as Record<string, number>)[unit]!;
}
