/**
 * The targets of issue 8, judged on one run (ratios within the run; the Portkey figure is the
 * issue's absolute measurement on this machine class).
 */
import type { CaseId } from './cases.ts';
import { measured, type CaseResult, type GoalResult, type Measurement, type RunResult } from './results.ts';
import type { SubjectName } from './subjects/subject.ts';

const PORTKEY_RPS = 1000;
const MB = 1024 * 1024;

export function evaluateGoals(run: Omit<RunResult, 'goals'>): GoalResult[] {
  const high = run.settings.connections.length - 1;
  const low = run.settings.connections.indexOf(Math.min(...run.settings.connections));
  const cHigh = run.settings.connections[high]!;
  const cLow = run.settings.connections[low]!;
  const find = (id: CaseId) => run.cases.find((c) => c.id === id);
  const goals: GoalResult[] = [];

  const rpsRatio = (id: CaseId, baseline: SubjectName, min: number, what: string) => {
    const c = find(id);
    if (!c) return;
    const tb = measured(c, 'tollbooth');
    const base = measured(c, baseline);
    const goal = `${what} ≥ ${pct(min)} of the ${baseline === 'undici' ? 'bare undici' : 'bare http-proxy-3'} proxy's rps (${cHigh} conn.)`;
    if (!tb || !base) return void goals.push(unjudged(goal, c, tb ? baseline : 'tollbooth'));
    const ratio = tb.loads[high]!.rps / base.loads[high]!.rps;
    goals.push({ goal, met: ratio >= min, value: `${pct(ratio)} (${rps(tb.loads[high]!)} vs ${rps(base.loads[high]!)})` });
  };
  rpsRatio('unified-chat', 'undici', 0.6, 'unified chat, non-streaming,');
  rpsRatio('unified-stream', 'undici', 0.6, 'unified chat, streaming,');
  for (const id of ['unified-chat', 'unified-stream'] as const) {
    const c = find(id);
    if (!c) continue;
    const tb = measured(c, 'tollbooth');
    const goal = `${c.title}: ≥ 10× Portkey's ~${PORTKEY_RPS} ${c.stream ? 'streams' : 'requests'}/s`;
    if (!tb) goals.push(unjudged(goal, c, 'tollbooth'));
    else goals.push({ goal, met: tb.loads[high]!.rps >= 10 * PORTKEY_RPS, value: `${rps(tb.loads[high]!)} = ${(tb.loads[high]!.rps / PORTKEY_RPS).toFixed(1)}×` });
  }
  rpsRatio('passthrough', 'http-proxy-3', 0.8, 'passthrough');
  rpsRatio('translated-stream', 'undici', 0.5, 'unified → Anthropic translated stream');

  for (const c of run.cases) {
    const tb = measured(c, 'tollbooth');
    const direct = measured(c, 'direct');
    const goal = `${c.title}: added p50 at ${cLow} conn. ≤ 150 µs over direct`;
    if (!tb || !direct) goals.push(unjudged(goal, c, tb ? 'direct' : 'tollbooth'));
    else {
      const added = tb.loads[low]!.p50Us - direct.loads[low]!.p50Us;
      goals.push({ goal, met: added <= 150, value: `${signedUs(added)} (${us(tb.loads[low]!.p50Us)} vs ${us(direct.loads[low]!.p50Us)})` });
    }
  }
  for (const c of run.cases.filter((x) => x.id !== 'passthrough')) {
    const tb = measured(c, 'tollbooth');
    const goal = `${c.title}: CPU per request ≤ 150 µs (${cHigh} conn.)`;
    const cpu = tb?.loads[high]!.cpuUsPerRequest;
    if (!tb || cpu === null || cpu === undefined) goals.push(unjudged(goal, c, 'tollbooth'));
    else goals.push({ goal, met: cpu <= 150, value: us(cpu) });
  }
  for (const c of run.cases.filter((x) => x.stream)) {
    const tb = measured(c, 'tollbooth');
    const direct = measured(c, 'direct');
    const goal = `${c.title}: time to first chunk ≤ 1 ms added at 1 conn.`;
    if (!tb?.firstChunk || !direct?.firstChunk) goals.push(unjudged(goal, c, tb ? 'direct' : 'tollbooth'));
    else {
      const added = tb.firstChunk.p50Us - direct.firstChunk.p50Us;
      goals.push({ goal, met: added <= 1000, value: `${signedUs(added)} (${us(tb.firstChunk.p50Us)} vs ${us(direct.firstChunk.p50Us)})` });
    }
  }
  const proc = run.processes.tollbooth;
  if (proc) {
    goals.push({ goal: 'RSS ≤ 80 MB idle', met: proc.rssIdleBytes <= 80 * MB, value: mb(proc.rssIdleBytes) });
    goals.push({ goal: 'RSS ≤ 150 MB under load', met: proc.rssPeakBytes <= 150 * MB, value: `${mb(proc.rssPeakBytes)} peak` });
  }
  return goals;
}


function unjudged(goal: string, c: CaseResult, missing: SubjectName): GoalResult {
  const s = c.subjects.find((x) => x.subject === missing);
  return { goal, met: null, value: s ? `${missing}: ${s.status}${s.note ? ` (${s.note})` : ''}` : `${missing}: not run` };
}

export const pct = (ratio: number) => `${Math.round(ratio * 100)}%`;
export const rps = (m: Measurement) => `${Math.round(m.rps).toLocaleString('en-US')} rps`;
export const mb = (bytes: number) => `${(bytes / MB).toFixed(1)} MB`;

export function us(micros: number): string {
  const sign = micros < 0 ? '−' : '';
  const v = Math.abs(micros);
  return v < 10_000 ? `${sign}${Math.round(v)} µs` : `${sign}${(v / 1000).toFixed(1)} ms`;
}

export const signedUs = (micros: number) => `${micros >= 0 ? '+' : ''}${us(micros)}`;
