/** The shape of one benchmark run, as printed, kept in bench/results/*.json and in RESULTS.md. */
import type { CaseId } from './cases.ts';
import type { FirstChunkResult } from './client.ts';
import type { LoadResult } from './load.ts';
import type { Variant } from './options.ts';
import type { SubjectName } from './subjects/subject.ts';

export interface Measurement extends LoadResult {
  /** CPU time (user + system) of the proxy process over the window ÷ 2xx responses. */
  cpuUsPerRequest: number | null;
  /** Peak VmRSS of the proxy process during the window. */
  rssPeakBytes: number | null;
}

export interface SubjectResult {
  subject: SubjectName;
  status: 'ok' | 'not available yet' | 'failed';
  note: string | null;
  /** One per connection count, in the order of RunResult.settings.connections. */
  loads: Measurement[];
  firstChunk: FirstChunkResult | null;
}

export interface CaseResult {
  id: CaseId;
  title: string;
  stream: boolean;
  subjects: SubjectResult[];
}

export interface ProcessInfo {
  pid: number;
  rssIdleBytes: number;
  /** After every measurement, once the load stopped. */
  rssAfterBytes: number | null;
  rssPeakBytes: number;
}

export interface GoalResult {
  goal: string;
  /** null: could not be judged (case not available or failed). */
  met: boolean | null;
  value: string;
}

export interface RunResult {
  date: string;
  mode: 'full' | 'quick' | 'smoke' | 'custom';
  machine: { nproc: number; cpu: string; node: string; os: string; loadavg: number[] };
  loadGenerator: string;
  settings: { durationS: number; rounds: number; warmupS: number; connections: number[]; firstChunkSamples: number; profiled: boolean };
  tollbooth: { command: string; logLevel: string; usageRecords: number; requestsCounted: number | null };
  processes: Partial<Record<SubjectName | 'fake-upstream', ProcessInfo>>;
  cases: CaseResult[];
  goals: GoalResult[];
  /** Every process the harness started. */
  pids: number[];
  profile: string | null;
  ledger: string | null;
  /** Other Tollbooths measured beside the main one (`tollbooth:<name>`). */
  variants: Variant[];
}

/** The subject's result in a case, when it was measured. */
export function measured(c: CaseResult, subject: SubjectName): SubjectResult | undefined {
  const s = c.subjects.find((x) => x.subject === subject);
  return s?.status === 'ok' && s.loads.length > 0 ? s : undefined;
}
