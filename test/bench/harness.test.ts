/**
 * The benchmark harness (bench/run.ts) in smoke mode: tiny durations, one case. It must produce
 * numbers for every subject, agree with what Tollbooth itself counted, and leave no process behind —
 * after a normal run and after Ctrl-C.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import type { RunResult } from '../../bench/results.ts';

const RUN = new URL('../../bench/run.ts', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'bench-smoke-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function startHarness(args: string[]) {
  const child = spawn(process.execPath, [RUN, '--smoke', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  let stdout = '';
  child.stderr.setEncoding('utf8').on('data', (t: string) => (stderr += t));
  child.stdout.setEncoding('utf8').on('data', (t: string) => (stdout += t));
  const timer = setTimeout(() => child.kill('SIGKILL'), 90_000);
  const exited = once(child, 'exit').then(([code, signal]) => {
    clearTimeout(timer);
    return { code: code as number | null, signal: signal as string | null };
  });
  return { child, exited, stderr: () => stderr, stdout: () => stdout };
}

/** Pids the harness announced as started (`started <name> pid=<n>`). */
const startedPids = (stderr: string) => [...stderr.matchAll(/started (\S+) pid=(\d+)/g)].map((m) => ({ name: m[1]!, pid: Number(m[2]) }));

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    return !/\) Z /.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

test('a smoke run measures every subject, agrees with Tollbooth’s own counters, and stops every process', async () => {
  const out = join(dir, 'run.json');
  const harness = startHarness(['--out', out]);
  const { code } = await harness.exited;
  assert.equal(code, 0, `harness failed:\n${harness.stderr()}`);

  const run = JSON.parse(readFileSync(out, 'utf8')) as RunResult;
  assert.equal(run.cases.length, 1);
  const [only] = run.cases;
  assert.deepEqual(
    only!.subjects.map((s) => s.subject).filter((s) => s !== 'nginx'),
    ['direct', 'undici', 'http-proxy-3', 'tollbooth'],
  );
  for (const s of only!.subjects) {
    assert.equal(s.status, 'ok', `${s.subject}: ${s.note}`);
    assert.deepEqual(s.loads.map((m) => m.connections), run.settings.connections);
    for (const m of s.loads) {
      assert.ok(m.requests > 0 && m.rps > 0 && m.p50Us > 0 && m.p99Us >= m.p50Us, `${s.subject} @${m.connections}: ${JSON.stringify(m)}`);
      assert.equal(m.non2xx + m.errors, 0);
      if (s.subject === 'direct') assert.equal(m.cpuUsPerRequest, null);
      else assert.ok(m.cpuUsPerRequest !== null && m.cpuUsPerRequest > 0 && m.rssPeakBytes! > 0);
    }
    assert.ok(s.firstChunk && s.firstChunk.p50Us > 0 && s.firstChunk.p50TotalUs >= s.firstChunk.p50Us);
  }

  // What the load generator counted as answered by Tollbooth, Tollbooth counted and metered too.
  const tollbooth = only!.subjects.find((s) => s.subject === 'tollbooth')!;
  const answered = tollbooth.loads.reduce((n, m) => n + m.requests, 0);
  assert.ok(run.tollbooth.requestsCounted! >= answered, `${run.tollbooth.requestsCounted} counted < ${answered} answered`);
  assert.ok(run.tollbooth.usageRecords >= answered, `${run.tollbooth.usageRecords} ledger lines < ${answered} answered`);
  assert.ok(run.processes.tollbooth!.rssIdleBytes > 0);
  assert.ok(run.goals.length > 0 && run.goals.every((g) => g.met !== null));
  assert.match(harness.stdout(), /\| Tollbooth \|/);

  const started = startedPids(harness.stderr());
  assert.deepEqual(
    started.map((s) => s.name).filter((n) => n !== 'nginx'),
    ['fake-upstream', 'undici-proxy', 'http-proxy-3-proxy', 'tollbooth'],
  );
  assert.deepEqual(started.map((s) => s.pid).sort(), [...run.pids].sort());
  assert.deepEqual(started.filter((s) => alive(s.pid)), []);
});

test('Ctrl-C in the middle of a run stops every process the harness started', async () => {
  const harness = startHarness([]);
  // Interrupt once Tollbooth (the last to start) is up and the load has begun.
  while (!/case unified-stream/.test(harness.stderr())) {
    if (harness.child.exitCode !== null) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  const started = startedPids(harness.stderr());
  assert.ok(started.some((s) => s.name === 'tollbooth'), harness.stderr());
  harness.child.kill('SIGINT');
  const { code } = await harness.exited;
  assert.equal(code, 130, harness.stderr());
  assert.match(harness.stderr(), /SIGINT: stopping every process/);
  assert.deepEqual(started.filter((s) => alive(s.pid)), []);
});
