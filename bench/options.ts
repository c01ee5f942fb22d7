/** Command-line options of `npm run bench -- …`. */
import { parseArgs } from 'node:util';
import { CASES, type CaseId } from './cases.ts';

export interface BenchOptions {
  mode: 'full' | 'quick' | 'smoke' | 'custom';
  cases: CaseId[];
  /** Seconds of measurement per subject and connection count, split over `rounds` interleaved windows. */
  durationS: number;
  rounds: number;
  warmupS: number;
  connections: number[];
  firstChunkSamples: number;
  load: 'auto' | 'autocannon' | 'wrk';
  nginx: boolean;
  profile: boolean;
  logLevel: string | null;
  /** Where the JSON goes (default bench/results/<date>.json); RESULTS.md is only written for full/quick runs. */
  out: string | null;
  write: boolean;
  ledger: boolean;
  /** More Tollbooths measured beside the main one, as subjects `tollbooth:<name>`. */
  variants: Variant[];
  /** The main Tollbooth's state (as a variant's `state=`; null: no plan, nothing held). */
  state: BenchState | null;
}

/** memory; redis (credit leases, the default); redis-holds (a hold per request, leases off). */
export type BenchState = 'memory' | 'redis' | 'redis-holds';

export interface Variant {
  name: string;
  logLevel: string | null;
  nodeArgs: string[];
  root: string | null;
  /**
   * Where money and limits are decided (the org then has a plan with an allowance, so every request
   * takes a hold and settles it): in the process, or in a Redis the harness starts.
   */
  state: BenchState | null;
}

export const USAGE = `usage: npm run bench -- [options]

  --quick              2 s measurements after 0.5 s warm-up (default: 5 s after 1 s)
  --smoke              CI check: tiny durations, one case, nothing written unless --out;
                       fails unless every subject produced numbers and every process is gone
  --cases a,b          ${CASES.map((c) => c.id).join(', ')}
  --duration S         seconds measured per subject and connection count (default 5)
  --rounds N           split that into N windows, the subjects interleaved (default 5)
  --warmup S           seconds of warm-up before each measurement
  --connections 1,50   connection counts
  --first-chunk N      sequential requests for the time to first chunk (default 200)
  --load NAME          autocannon | wrk (default: wrk when on the PATH, else autocannon)
  --no-nginx           skip nginx even when installed
  --profile            run Tollbooth with --cpu-prof and print its top self-time frames
  --state memory|redis|redis-holds
                       the main Tollbooth's org gets a plan (a hold and a settle per request),
                       its state in the process or in a redis-server the harness starts
  --log-level LEVEL    Tollbooth's log level (default: the production default, info)
  --out FILE           write the JSON here
  --no-write           do not write bench/results/*.json nor bench/RESULTS.md
  --no-ledger          skip bench/ledger.ts even when present
  --variant NAME:K=V,… also measure another Tollbooth in the same run, e.g.
                       warn:log=warn   semi16:node=--max-semi-space-size=16
                       before:root=/path/to/another/checkout   (repeatable)
                       mem:state=memory   redis:state=redis   holds:state=redis-holds (the org
                       gets a plan: a hold and a settle per request; redis: a redis-server the
                       harness starts, with credit leases; redis-holds: leases off)
`;

export function parseOptions(argv: string[]): BenchOptions | 'help' {
  const { values } = parseArgs({
    args: argv,
    options: {
      quick: { type: 'boolean' },
      smoke: { type: 'boolean' },
      cases: { type: 'string' },
      duration: { type: 'string' },
      warmup: { type: 'string' },
      rounds: { type: 'string' },
      connections: { type: 'string' },
      'first-chunk': { type: 'string' },
      load: { type: 'string' },
      'no-nginx': { type: 'boolean' },
      profile: { type: 'boolean' },
      'log-level': { type: 'string' },
      out: { type: 'string' },
      'no-write': { type: 'boolean' },
      'no-ledger': { type: 'boolean' },
      variant: { type: 'string', multiple: true },
      state: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) return 'help';
  const smoke = values.smoke === true;
  const quick = values.quick === true;
  const base = smoke
    ? { durationS: 0.3, rounds: 1, warmupS: 0.1, connections: [1, 4], firstChunkSamples: 5, cases: ['unified-stream'] as CaseId[] }
    : quick
      ? { durationS: 2, rounds: 2, warmupS: 0.5, connections: [1, 50], firstChunkSamples: 100, cases: CASES.map((c) => c.id) }
      : { durationS: 5, rounds: 5, warmupS: 1, connections: [1, 50], firstChunkSamples: 200, cases: CASES.map((c) => c.id) };
  const custom = values.duration || values.warmup || values.rounds || values.connections || values.cases || values['first-chunk'];
  const cases = values.cases ? (values.cases.split(',') as CaseId[]) : base.cases;
  for (const id of cases) if (!CASES.some((c) => c.id === id)) throw new Error(`unknown case '${id}'`);
  const load = values.load ?? 'auto';
  if (load !== 'auto' && load !== 'autocannon' && load !== 'wrk') throw new Error(`unknown load generator '${load}'`);
  const connections = values.connections ? values.connections.split(',').map(positive) : base.connections;
  return {
    mode: smoke ? 'smoke' : custom ? 'custom' : quick ? 'quick' : 'full',
    cases,
    durationS: values.duration ? positive(values.duration) : base.durationS,
    rounds: values.rounds ? Math.round(positive(values.rounds)) : base.rounds,
    warmupS: values.warmup ? Number(values.warmup) : base.warmupS,
    connections: [...new Set(connections)].sort((a, b) => a - b),
    firstChunkSamples: values['first-chunk'] ? positive(values['first-chunk']) : base.firstChunkSamples,
    // The smoke test checks the harness, not the machine: the in-process generator is enough.
    load: smoke ? 'autocannon' : load,
    nginx: values['no-nginx'] !== true,
    profile: values.profile === true,
    logLevel: values['log-level'] ?? null,
    out: values.out ?? null,
    write: values['no-write'] !== true && !smoke,
    ledger: values['no-ledger'] !== true && !smoke,
    variants: (values.variant ?? []).map(parseVariant),
    state: values.state === undefined ? null : stateOption(values.state),
  };
}

function parseVariant(text: string): Variant {
  const colon = text.indexOf(':');
  const name = colon === -1 ? text : text.slice(0, colon);
  if (!/^[\w.-]+$/.test(name)) throw new Error(`--variant: bad name '${name}'`);
  const variant: Variant = { name, logLevel: null, nodeArgs: [], root: null, state: null };
  for (const pair of colon === -1 ? [] : text.slice(colon + 1).split(',')) {
    const eq = pair.indexOf('=');
    const [key, value] = [pair.slice(0, eq), pair.slice(eq + 1)];
    if (key === 'log') variant.logLevel = value;
    else if (key === 'node') variant.nodeArgs.push(...value.split(' ').filter(Boolean));
    else if (key === 'root') variant.root = value;
    else if (key === 'state') variant.state = stateOption(value);
    else throw new Error(`--variant ${name}: unknown setting '${pair}' (log=, node=, root=, state=memory|redis|redis-holds)`);
  }
  return variant;
}

function stateOption(text: string): BenchState {
  if (text !== 'memory' && text !== 'redis' && text !== 'redis-holds') throw new Error(`state must be memory, redis or redis-holds, not '${text}'`);
  return text;
}

function positive(text: string): number {
  const n = Number(text);
  if (!(n > 0)) throw new Error(`expected a positive number, got '${text}'`);
  return n;
}
