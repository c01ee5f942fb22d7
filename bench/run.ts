/**
 * `npm run bench`: Tollbooth against a fake upstream and bare baselines, on 127.0.0.1, in one run
 * (see bench/RESULTS.md). Every process it starts is stopped at the end — also on errors, on
 * Ctrl-C and when the run's deadline passes — and every run is bounded in time.
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runBenchmark } from './benchmark.ts';
import { parseOptions, USAGE, type BenchOptions } from './options.ts';
import { ProcessGroup } from './processes.ts';
import { summarizeProfile } from './profile.ts';
import { renderRun, updateResultsMarkdown, writeJson } from './report.ts';
import type { RunResult } from './results.ts';
import { tail } from './subjects/tollbooth.ts';

const BENCH = new URL('./', import.meta.url).pathname;
const ROOT = new URL('../', import.meta.url).pathname;

const began = performance.now();
const log = (line: string) => process.stderr.write(`[bench ${((performance.now() - began) / 1000).toFixed(1).padStart(5)}s] ${line}\n`);

async function main(): Promise<number> {
  let parsed;
  try {
    parsed = parseOptions(process.argv.slice(2));
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n${USAGE}`);
    return 2;
  }
  if (parsed === 'help') {
    process.stdout.write(USAGE);
    return 0;
  }
  const options = parsed;
  const group = new ProcessGroup(log);
  const dir = mkdtempSync(join(tmpdir(), 'tollbooth-bench-'));
  const controller = new AbortController();
  const profileDir = join(ROOT, '.bench-tmp', 'profiles');
  const startedAt = Date.now();

  let stopping = false;
  const stopEverything = async (why: string, code: number) => {
    if (stopping) {
      group.killAllNow();
      process.exit(code);
    }
    stopping = true;
    log(`${why}: stopping every process`);
    controller.abort();
    await group.stopAll(2000);
    rmSync(dir, { recursive: true, force: true });
    process.exit(code);
  };
  process.on('SIGINT', () => void stopEverything('SIGINT', 130));
  process.on('SIGTERM', () => void stopEverything('SIGTERM', 143));
  process.on('SIGHUP', () => void stopEverything('SIGHUP', 129));
  process.on('exit', () => group.killAllNow());
  const deadlineMs = deadline(options);
  setTimeout(() => void stopEverything(`the run passed its ${Math.round(deadlineMs / 1000)} s deadline`, 124), deadlineMs).unref();

  let run: RunResult;
  let logFile = '';
  try {
    if (options.profile) mkdirSync(profileDir, { recursive: true });
    const result = await runBenchmark({
      options,
      group,
      dir,
      signal: controller.signal,
      log,
      tollboothNodeArgs: options.profile ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : [],
    });
    run = result.run;
    logFile = result.tollbooth.logFile;
    // Tollbooth drains and exits on SIGTERM; a profile is written as it exits.
    await group.stopAll(options.profile ? 20_000 : 5000);
  } catch (err) {
    // Interrupted: stopEverything stops the processes and exits with the signal's code.
    if (controller.signal.aborted) return new Promise<number>(() => {});
    log(`failed: ${(err as Error).stack ?? err}`);
    await group.stopAll(2000);
    const tb = join(dir, 'tollbooth.log');
    if (existsSync(tb)) log(`tollbooth log (tail):\n${tail(tb)}`);
    rmSync(dir, { recursive: true, force: true });
    return 1;
  }

  if (options.profile) run.profile = latestProfile(profileDir, startedAt);
  if (options.ledger && existsSync(join(BENCH, 'ledger.ts'))) run.ledger = await runLedgerBench(group, options);
  const survivors = group.survivors();

  const rendered = renderRun(run);
  process.stdout.write(`\n${rendered}\n`);
  if (run.profile) process.stdout.write(`\nTollbooth CPU profile (${run.profile}):\n${summarizeProfile(run.profile)}\n`);

  const stamp = run.date.replaceAll(':', '-').replace(/\.\d+Z$/, 'Z');
  const jsonPath = options.out ?? (options.write ? join(BENCH, 'results', `${stamp}.json`) : null);
  if (jsonPath) {
    writeJson(jsonPath, run);
    log(`wrote ${jsonPath}`);
  }
  if (options.write && jsonPath) {
    updateResultsMarkdown(join(BENCH, 'RESULTS.md'), run, rendered, jsonPath.startsWith(ROOT) ? jsonPath.slice(ROOT.length) : jsonPath);
    log('updated bench/RESULTS.md');
  }
  const problems = [...checkRun(run, options), ...survivors.map((c) => `${c.name} pid=${c.pid} is still running`)];
  if (problems.length > 0 && logFile) log(`tollbooth log (tail):\n${tail(logFile)}`);
  rmSync(dir, { recursive: true, force: true });
  for (const p of problems) log(`problem: ${p}`);
  log(`done in ${Math.round((Date.now() - startedAt) / 1000)} s; every process stopped: ${survivors.length === 0 ? 'yes' : 'NO'}`);
  return problems.length > 0 ? 1 : 0;
}

/** What makes a run unusable: a subject that failed, errors under load, a measurement without numbers. */
function checkRun(run: RunResult, options: BenchOptions): string[] {
  const problems: string[] = [];
  for (const c of run.cases) {
    for (const s of c.subjects) {
      if (s.status === 'failed') problems.push(`${c.id}/${s.subject} failed: ${s.note}`);
      if (s.status !== 'ok') continue;
      for (const m of s.loads) {
        if (!(m.requests > 0 && m.rps > 0 && m.p50Us > 0)) problems.push(`${c.id}/${s.subject} @${m.connections}: no numbers`);
        if (m.non2xx > 0 || m.errors > 0) problems.push(`${c.id}/${s.subject} @${m.connections}: ${m.non2xx} non-2xx, ${m.errors} errors`);
      }
      if (c.stream && !(s.firstChunk && s.firstChunk.p50Us > 0)) problems.push(`${c.id}/${s.subject}: no first-chunk time`);
    }
  }
  if (options.mode === 'smoke' && run.tollbooth.usageRecords === 0) problems.push('Tollbooth wrote no usage record');
  return problems;
}

/** Generous bound on the whole run: every measurement and warm-up, plus start-up and slack. */
function deadline(options: BenchOptions): number {
  const subjects = 5 + options.variants.length;
  const measurements = options.cases.length * subjects * options.connections.length;
  const perMeasurement = options.durationS + options.warmupS + options.rounds * 0.5 + 2;
  const firstChunks = options.cases.length * subjects * options.firstChunkSamples * 0.01;
  return (measurements * perMeasurement + firstChunks + 120 + (options.ledger ? 300 : 0) + (options.profile ? 30 : 0)) * 1000;
}

function latestProfile(dir: string, since: number): string | null {
  const files = readdirSync(dir)
    .filter((f) => f.endsWith('.cpuprofile'))
    .map((f) => join(dir, f))
    .filter((f) => statSync(f).mtimeMs >= since)
    .sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs);
  return files[0] ?? null;
}

/** bench/ledger.ts (ledger entries/s) in its own process, bounded in time; its stdout goes in the report. */
async function runLedgerBench(group: ProcessGroup, options: BenchOptions): Promise<string> {
  const args = [join(BENCH, 'ledger.ts'), ...(options.mode === 'full' ? [] : ['--entries', '50000'])];
  const child = group.spawn('ledger-bench', process.execPath, args, { cwd: ROOT });
  let out = '';
  child.process.stdout?.setEncoding('utf8').on('data', (t: string) => (out += t));
  child.process.stderr?.setEncoding('utf8').on('data', (t: string) => process.stderr.write(`[ledger] ${t}`));
  const timer = setTimeout(() => child.process.kill('SIGKILL'), 240_000);
  await child.exited;
  clearTimeout(timer);
  const code = child.process.exitCode;
  return code === 0 ? out.trim() : `bench/ledger.ts failed (${child.process.signalCode ?? `exit ${code}`})\n\n${out.trim()}`;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    log(`unexpected: ${(err as Error).stack ?? err}`);
    process.exit(1);
  },
);
