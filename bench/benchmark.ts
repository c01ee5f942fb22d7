/**
 * One benchmark run: start the fake upstream, the baselines and Tollbooth, then for every case
 * probe each subject, time its first streamed chunk, and load it at each connection count —
 * every subject in the same run, so ratios between them hold on a noisy machine.
 */
import { availableParallelism, loadavg, release } from 'node:os';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createHistogram } from 'node:perf_hooks';
import { CASES, notAvailableYet, type BenchCase } from './cases.ts';
import { firstChunkTimes, probe } from './client.ts';
import { evaluateGoals } from './goals.ts';
import { autocannonGenerator, findWrk, wrkGenerator, type LoadGenerator, type LoadResult, type LoadSpec } from './load.ts';
import type { BenchOptions } from './options.ts';
import { cpuMicros, processTree, rssBytes, sampleRss } from './proc-stats.ts';
import { freePort, type ProcessGroup } from './processes.ts';
import type { CaseResult, Measurement, RunResult, SubjectResult } from './results.ts';
import { findNginx, startNginx } from './subjects/nginx.ts';
import { isTollbooth, startBenchServer, type Subject, type SubjectName } from './subjects/subject.ts';
import { requestsCounted, startTollbooth, usageRecords, type RunningTollbooth } from './subjects/tollbooth.ts';

export interface BenchContext {
  options: BenchOptions;
  group: ProcessGroup;
  /** Temp dir for configs and logs, removed at the end. */
  dir: string;
  signal: AbortSignal;
  log(line: string): void;
  /** Extra node flags for Tollbooth (--cpu-prof). */
  tollboothNodeArgs: string[];
}

export async function runBenchmark(ctx: BenchContext): Promise<{ run: RunResult; tollbooth: RunningTollbooth }> {
  const { options, group, log } = ctx;
  const date = new Date().toISOString();
  const machine = { nproc: availableParallelism(), cpu: cpuModel(), node: process.version, os: `Linux ${release()}`, loadavg: loadavg() };
  const generator = pickGenerator(ctx);

  const upstream = await startBenchServer(group, 'fake-upstream', 'fake-upstream.ts');
  const subjects: Subject[] = [{ name: 'direct', origin: upstream.origin, pid: null }];
  const undici = await startBenchServer(group, 'undici-proxy', 'undici-proxy.ts', [upstream.origin]);
  subjects.push({ name: 'undici', origin: undici.origin, pid: undici.child.pid });
  const httpProxy = await startBenchServer(group, 'http-proxy-3-proxy', 'http-proxy-3-proxy.ts', [upstream.origin]);
  subjects.push({ name: 'http-proxy-3', origin: httpProxy.origin, pid: httpProxy.child.pid });
  const nginxBinary = options.nginx ? findNginx() : null;
  if (nginxBinary) {
    const nginx = await startNginx(group, nginxBinary, upstream.origin, ctx.dir);
    subjects.push({ name: 'nginx', origin: nginx.origin, pid: nginx.child.pid });
  } else log(options.nginx ? 'nginx is not on the PATH: skipped' : 'nginx skipped (--no-nginx)');
  const usesRedis = (state: string | null) => state === 'redis' || state === 'redis-holds';
  const redis = usesRedis(options.state) || options.variants.some((v) => usesRedis(v.state)) ? await startRedis(group, ctx.dir) : null;
  const redisVariants: Array<{ name: string; opsOrigin: string }> = [];
  const tollbooth = await startTollbooth(group, { upstreamOrigin: upstream.origin, dir: ctx.dir, logLevel: options.logLevel, nodeArgs: ctx.tollboothNodeArgs, state: options.state, redisUrl: redis?.url });
  subjects.push({ name: 'tollbooth', origin: tollbooth.origin, pid: tollbooth.child.pid });
  if (usesRedis(options.state)) redisVariants.push({ name: 'tollbooth', opsOrigin: tollbooth.opsOrigin });
  for (const variant of options.variants) {
    const dir = join(ctx.dir, `variant-${variant.name}`);
    mkdirSync(dir);
    const started = await startTollbooth(group, {
      upstreamOrigin: upstream.origin,
      dir,
      logLevel: variant.logLevel ?? options.logLevel,
      // --profile profiles the main Tollbooth only.
      nodeArgs: variant.nodeArgs,
      root: variant.root,
      name: `tollbooth:${variant.name}`,
      state: variant.state,
      redisUrl: redis?.url,
    });
    subjects.push({ name: `tollbooth:${variant.name}`, origin: started.origin, pid: started.child.pid });
    if (usesRedis(variant.state)) redisVariants.push({ name: variant.name, opsOrigin: started.opsOrigin });
  }

  await new Promise((r) => setTimeout(r, 500));
  const processes: RunResult['processes'] = {};
  for (const s of subjects) {
    if (s.pid === null) continue;
    const rss = rssBytes(processTree(s.pid));
    processes[s.name] = { pid: s.pid, rssIdleBytes: rss, rssAfterBytes: null, rssPeakBytes: rss };
  }

  const cases: CaseResult[] = [];
  for (const benchCase of CASES.filter((c) => options.cases.includes(c.id))) {
    log(`case ${benchCase.id}: ${benchCase.title}`);
    cases.push(await runCase(ctx, generator, benchCase, subjects, processes));
  }

  for (const s of subjects) {
    const info = processes[s.name];
    if (info) info.rssAfterBytes = rssBytes(processTree(info.pid));
  }
  await new Promise((r) => setTimeout(r, 300)); // let the usage log's last batch reach the disk
  for (const v of redisVariants) {
    // Round trips to Redis per request the variant served (its own counter of store calls).
    const text = await (await fetch(`${v.opsOrigin}/metrics`)).text();
    let calls = 0;
    for (const m of text.matchAll(/^tollbooth_state_store_calls_total\{operation="(\w+)"\} (\d+)$/gm)) calls += Number(m[2]);
    const requests = (await requestsCounted(v.opsOrigin)) ?? 0;
    log(`${v.name === 'tollbooth' ? 'tollbooth' : `tollbooth:${v.name}`}: ${calls} Redis round trips for ${requests} requests: ${(calls / Math.max(1, requests)).toFixed(2)} per request`);
  }
  const partial: Omit<RunResult, 'goals'> = {
    date,
    mode: options.mode,
    machine,
    loadGenerator: generator.name,
    settings: { durationS: options.durationS, rounds: options.rounds, warmupS: options.warmupS, connections: options.connections, firstChunkSamples: options.firstChunkSamples, profiled: options.profile },
    tollbooth: {
      command: `${ctx.tollboothNodeArgs.length ? `NODE_OPTIONS='${ctx.tollboothNodeArgs.join(' ')}' ` : ''}bin/tollbooth serve --config <temp>/tollbooth.yaml`,
      logLevel: tollbooth.logLevel,
      usageRecords: usageRecords(tollbooth.dataDir),
      requestsCounted: await requestsCounted(tollbooth.opsOrigin),
    },
    processes,
    cases,
    pids: group.pids,
    profile: null,
    ledger: null,
    variants: options.variants,
  };
  return { run: { ...partial, goals: evaluateGoals(partial) }, tollbooth };
}

async function runCase(ctx: BenchContext, generator: LoadGenerator, benchCase: BenchCase, subjects: Subject[], processes: RunResult['processes']): Promise<CaseResult> {
  const { options, log, signal } = ctx;
  const results = new Map<SubjectName, SubjectResult>();
  for (const subject of subjects) {
    const request = isTollbooth(subject.name) ? benchCase.tollbooth : benchCase.native;
    const result: SubjectResult = { subject: subject.name, status: 'ok', note: null, loads: [], firstChunk: null };
    try {
      const answer = await probe(subject.origin, request);
      if (isTollbooth(subject.name) && notAvailableYet(answer.status, answer.body)) {
        result.status = 'not available yet';
        result.note = errorMessage(answer.body);
      } else {
        const problem = benchCase.check(subject.name, answer.status, answer.body);
        if (problem) Object.assign(result, { status: 'failed', note: problem });
      }
    } catch (err) {
      Object.assign(result, { status: 'failed', note: (err as Error).message });
    }
    if (result.status !== 'ok') log(`  ${subject.name}: ${result.status}${result.note ? `: ${result.note}` : ''}`);
    results.set(subject.name, result);
  }
  const live = subjects.filter((s) => results.get(s.name)!.status === 'ok');

  if (benchCase.stream && live.length > 0) {
    const targets = live.map((s) => ({ key: s.name, origin: s.origin, request: isTollbooth(s.name) ? benchCase.tollbooth : benchCase.native }));
    const times = await firstChunkTimes(targets, options.firstChunkSamples, Math.min(50, options.firstChunkSamples), signal);
    for (const [name, result] of times) results.get(name)!.firstChunk = result;
  }

  for (const connections of options.connections) {
    const spec = (subject: Subject, durationS: number): LoadSpec => ({
      origin: subject.origin,
      request: isTollbooth(subject.name) ? benchCase.tollbooth : benchCase.native,
      connections,
      durationS,
    });
    if (options.warmupS > 0) for (const subject of live) await generator.run(spec(subject, options.warmupS), signal);
    // Rounds interleave the subjects (in a rotating order), so a burst of background load on this
    // shared machine falls on all of them rather than on whichever ran at that moment.
    const windows = new Map(live.map((s) => [s.name, new Windows(connections)]));
    for (let round = 0; round < options.rounds; round++) {
      for (const subject of rotate(live, round)) {
        if (signal.aborted) throw new Error('aborted');
        await measureWindow(generator, subject, spec(subject, options.durationS / options.rounds), windows.get(subject.name)!, signal);
      }
    }
    for (const subject of live) {
      const m = windows.get(subject.name)!.result();
      const info = processes[subject.name];
      if (info && m.rssPeakBytes !== null) info.rssPeakBytes = Math.max(info.rssPeakBytes, m.rssPeakBytes);
      results.get(subject.name)!.loads.push(m);
      log(`  ${subject.name.padEnd(12)} c=${String(connections).padEnd(3)} ${Math.round(m.rps).toString().padStart(6)} rps  p50 ${Math.round(m.p50Us)} µs  p99 ${Math.round(m.p99Us)} µs${m.cpuUsPerRequest === null ? '' : `  cpu ${Math.round(m.cpuUsPerRequest)} µs/req`}${m.non2xx || m.errors ? `  ⚠ ${m.non2xx} non-2xx ${m.errors} errors` : ''}`);
    }
  }
  return { id: benchCase.id, title: benchCase.title, stream: benchCase.stream, subjects: subjects.map((s) => results.get(s.name)!) };
}

/** One measured window, with the proxy's CPU time and peak RSS around it. */
async function measureWindow(generator: LoadGenerator, subject: Subject, spec: LoadSpec, into: Windows, signal: AbortSignal): Promise<void> {
  const pids = subject.pid === null ? [] : processTree(subject.pid);
  const rss = pids.length > 0 ? sampleRss(pids) : null;
  const cpuBefore = cpuMicros(pids);
  const result = await generator.run(spec, signal, into.latencies);
  into.add(result, pids.length > 0 ? cpuMicros(pids) - cpuBefore : null, rss ? rss.stop() : null);
}

/** The windows of one subject at one connection count, summed into one measurement. */
class Windows {
  readonly latencies = createHistogram();
  readonly #connections: number;
  #parts: { result: LoadResult; cpu: number | null; rss: number | null }[] = [];

  constructor(connections: number) {
    this.#connections = connections;
  }

  add(result: LoadResult, cpu: number | null, rss: number | null): void {
    this.#parts.push({ result, cpu, rss });
  }

  result(): Measurement {
    const sum = (f: (p: LoadResult) => number) => this.#parts.reduce((n, p) => n + f(p.result), 0);
    const requests = sum((p) => p.requests);
    const durationS = sum((p) => p.durationS);
    // wrk reports percentiles only: weigh each window's by its responses.
    const weighted = (f: (p: LoadResult) => number) => (requests > 0 ? sum((p) => f(p) * p.requests) / requests : 0);
    const filled = this.latencies.count > 0;
    const cpu = this.#parts.every((p) => p.cpu !== null) ? this.#parts.reduce((n, p) => n + p.cpu!, 0) : null;
    const rss = this.#parts.map((p) => p.rss).filter((r) => r !== null);
    return {
      connections: this.#connections,
      durationS,
      requests,
      rps: durationS > 0 ? requests / durationS : 0,
      non2xx: sum((p) => p.non2xx),
      errors: sum((p) => p.errors),
      p50Us: filled ? this.latencies.percentile(50) : weighted((p) => p.p50Us),
      p99Us: filled ? this.latencies.percentile(99) : weighted((p) => p.p99Us),
      cpuUsPerRequest: cpu !== null && requests > 0 ? cpu / requests : null,
      rssPeakBytes: rss.length > 0 ? Math.max(...rss) : null,
    };
  }
}

function rotate<T>(items: T[], by: number): T[] {
  const k = by % items.length;
  return [...items.slice(k), ...items.slice(0, k)];
}

function pickGenerator(ctx: BenchContext): LoadGenerator {
  const wrk = ctx.options.load === 'autocannon' ? null : findWrk();
  if (ctx.options.load === 'wrk' && !wrk) throw new Error('--load wrk: wrk is not on the PATH');
  return wrk ? wrkGenerator(wrk, ctx.group, ctx.dir) : autocannonGenerator;
}

function cpuModel(): string {
  try {
    return /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1]?.trim() ?? 'unknown CPU';
  } catch {
    return 'unknown CPU';
  }
}

function errorMessage(body: string): string {
  try {
    return (JSON.parse(body) as { error?: { message?: string } }).error?.message ?? body.slice(0, 200);
  } catch {
    return body.slice(0, 200);
  }
}

/** A redis-server of the run's own (Debian's package), for `state=redis` variants. */
async function startRedis(group: BenchContext['group'], dir: string): Promise<{ url: string; port: number }> {
  const port = await freePort();
  const child = group.spawn('redis-server', 'redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'no']);
  for (;;) {
    if ((await redisCommands(port).catch(() => null)) !== null) return { url: `redis://127.0.0.1:${port}`, port };
    if (child.process.exitCode !== null) throw new Error('redis-server did not start (apt-get install redis-server)');
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** total_commands_processed of the Redis on `port` (INFO stats, through redis-cli). */
async function redisCommands(port: number): Promise<number> {
  const { execFile } = await import('node:child_process');
  const out = await new Promise<string>((resolve, reject) =>
    execFile('redis-cli', ['-p', String(port), 'info', 'stats'], (err, stdout) => (err ? reject(err) : resolve(stdout))),
  );
  const match = /total_commands_processed:(\d+)/.exec(out);
  if (!match) throw new Error('redis not answering yet');
  return Number(match[1]);
}
