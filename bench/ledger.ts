/**
 * Ledger and admission figures on this machine:
 *   node_modules/.bin/node bench/ledger.ts [--entries N] [--sizes 100000,1000000,10000000] [--format 1|2] [--bill] [--dir DIR] [--skip-admission]
 *
 * - throughput: N charges appended as fast as the loop can (yielding every 1000 so commits run),
 *   every one fsynced by group commit; entries/s, fsyncs, entries per fsync;
 * - low load: one charge every 5 ms; the time to its acknowledgement (commit window 2 ms + sync
 *   interval 20 ms + one fsync);
 * - at scale, per size in --sizes: a ledger of that many charges (50 orgs, 6 models, allowances,
 *   config grants and top-ups, default checkpointing), then in a fresh child process each: time to ready (Ledger.open) and its
 *   peak RSS (with the RSS of an idle process that imported the same code), and `ledger verify`
 *   time and peak RSS; bytes per charge on disk, and gzip'd as the archive step stores closed files;
 * - --bill: every managed charge carries a realistic `bill` member (a rate card stamp, see BILL);
 * - admission: admit + settle per request (plan with RPM/TPM limits and a credit hold), in µs.
 * The ledger lives in a temp dir on the same filesystem as /tmp unless --dir says otherwise.
 */
import { spawnSync } from 'node:child_process';
import { createReadStream, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Accounts } from '../src/metering/ledger/accounts.ts';
import { MemoryStateStore } from '../src/state/memory-store.ts';
import { AdmissionGate, type AdmissionRequest } from '../src/admission/gate.ts';
import type { ModelRecord } from '../src/catalog/types.ts';
import type { TollboothConfig } from '../src/config/types.ts';
import { formatCredits, PICO_PER_CREDIT } from '../src/metering/credits.ts';
import { Ledger } from '../src/metering/ledger/ledger.ts';
import { charge } from '../src/metering/pricing/bill.ts';
import type { UsageRecord } from '../src/metering/record.ts';
import { createMetrics } from '../src/metrics/registry.ts';
import type { Target } from '../src/routing/target.ts';

const { values } = parseArgs({
  options: {
    entries: { type: 'string', default: '200000' },
    sizes: { type: 'string', default: '100000,1000000' },
    dir: { type: 'string' },
    child: { type: 'string' },
    format: { type: 'string', default: '2' },
    bill: { type: 'boolean', default: false },
    keep: { type: 'boolean', default: false },
    'skip-admission': { type: 'boolean', default: false },
  },
});
const N = Number(values.entries);
/** Line format of the ledgers written (see src/metering/ledger/compact.ts). */
const FORMAT = values.format === '1' ? 1 : 2;

/** Prices for the stamp the meter writes (pricing/bill.ts, built canonical): GPT-5.1's, with cached input. */
const PRICES = { input_usd_per_1m: 1.25, output_usd_per_1m: 10, cache_read_usd_per_1m: 0.125 };

/** Catalog records are loaded once and kept: their prices compile once (pricing/compile.ts). */
const priced = new Map<string, ModelRecord>();

/** A managed record with the bill the meter would stamp on it (its own tokens priced; credits agree). */
function billed(r: UsageRecord): UsageRecord {
  const usage = { prompt_tokens: r.prompt_tokens, completion_tokens: r.completion_tokens, cached_tokens: r.cached_tokens, reasoning_tokens: r.reasoning_tokens, source: 'reported' as const };
  let model = priced.get(r.model!);
  if (!model) priced.set(r.model!, (model = { model_id: r.model, ...PRICES } as ModelRecord));
  const bill = charge({ usage, model, billing: 'managed', operation: 'chat', served: true, at: Date.parse(r.ts) });
  return { ...r, credits: formatCredits(bill.pico), bill: bill.bill! };
}
const base = values.dir ?? tmpdir();
const NODE = process.execPath;
const SELF = new URL(import.meta.url).pathname;
const CLI = new URL('../src/cli.ts', import.meta.url).pathname;

const MODELS = [
  ['gpt-6-luna', 'openai'],
  ['gpt-4.1-nano', 'openai'],
  ['claude-sonnet-4-5', 'anthropic'],
  ['gemini-2.5-flash', 'gemini'],
  ['llama-3.3-70b', 'groq'],
  ['mistral-large', 'mistral'],
] as const;

function record(n: number, ts = new Date().toISOString()): UsageRecord {
  const r = plainRecord(n, ts);
  return values.bill && r.billing === 'managed' ? billed(r) : r;
}

function plainRecord(n: number, ts: string): UsageRecord {
  const [model, provider] = MODELS[n % MODELS.length]!;
  return {
    ts,
    request_id: `req_${(n * 2654435761).toString(36)}${n.toString(36)}`,
    org: `org-${n % 50}`,
    key_id: `key-${n % 200}`,
    api: n % 3 === 0 ? 'native' : 'unified',
    operation: 'chat',
    stream: n % 2 === 0,
    requested_model: model,
    model,
    provider,
    upstream_model: model,
    credential: provider,
    billing: n % 10 === 0 ? 'byok' : 'managed',
    status: 200,
    outcome: 'ok',
    prompt_tokens: 100 + (n % 5000),
    completion_tokens: 30 + (n % 700),
    cached_tokens: n % 4 === 0 ? 64 : 0,
    reasoning_tokens: 0,
    usage_source: 'reported',
    credits: n % 10 === 0 ? '0' : `1.${String(n % 1000000).padStart(6, '0')}`,
    unpriced: false,
    attempts: 1,
    duration_ms: 100 + (n % 900) + 0.123,
    ttfb_ms: 20 + (n % 80) + 0.5,
  };
}

function metric(text: string, name: string): number {
  return Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1] ?? NaN);
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

const mb = (bytes: number) => `${(bytes / 2 ** 20).toFixed(0)} MB`;

async function throughput(dir: string): Promise<void> {
  const metrics = createMetrics();
  const ledger = await Ledger.open({ dir, metrics, commitWindowMs: 2, syncIntervalMs: 20, format: FORMAT });
  const start = performance.now();
  for (let i = 0; i < N; i++) {
    ledger.record(record(i));
    if (i % 1000 === 999) await new Promise((r) => setImmediate(r));
  }
  await ledger.flush();
  const seconds = (performance.now() - start) / 1000;
  await ledger.close();
  const text = await metrics.registry.metrics();
  const fsyncs = metric(text, 'tollbooth_ledger_fsync_batch_entries_count');
  const bytes = metric(text, 'tollbooth_ledger_bytes_total');
  console.log(`ledger throughput:  ${Math.round(N / seconds).toLocaleString('en')} entries/s fsynced (${N} entries in ${seconds.toFixed(2)} s)`);
  console.log(`                    ${fsyncs} fsyncs, ${(N / fsyncs).toFixed(0)} entries per fsync, ${(bytes / N).toFixed(0)} bytes per entry, ${(bytes / seconds / 1e6).toFixed(1)} MB/s`);
}

async function lowLoad(dir: string): Promise<void> {
  const ledger = await Ledger.open({ dir, commitWindowMs: 2, syncIntervalMs: 20 });
  const latencies: number[] = [];
  for (let i = 0; i < 200; i++) {
    const start = performance.now();
    await ledger.charge(record(i)).acked;
    latencies.push(performance.now() - start);
    await new Promise((r) => setTimeout(r, 5));
  }
  await ledger.close();
  latencies.sort((a, b) => a - b);
  console.log(`low-load ack:       p50 ${percentile(latencies, 50).toFixed(2)} ms, p99 ${percentile(latencies, 99).toFixed(2)} ms (commit window 2 ms + sync interval 20 ms + one fsync)`);
}

/**
 * Writes `size` charges over 30 days of timestamps (a daily allowance for half the orgs), a config
 * grant per org and an admin top-up every 5,000 charges, as fast as group commit takes them.
 */
async function generate(dir: string, size: number): Promise<number> {
  const allowanceOf = (org: string) => (Number(org.slice(4)) % 2 === 0 ? { pico: 50n * PICO_PER_CREDIT, period: 'daily' as const } : null);
  const ledger = await Ledger.open({ dir, commitWindowMs: 2, syncIntervalMs: 20, allowanceOf, format: FORMAT });
  for (let o = 0; o < 50; o++) ledger.grant({ org: `org-${o}`, pico: 100_000n * PICO_PER_CREDIT, kind: 'grant', grantId: 'welcome', source: 'config', by: null, note: 'launch' });
  const t0 = Date.UTC(2026, 10, 1);
  const start = performance.now();
  for (let i = 0; i < size; i++) {
    const ts = new Date(t0 + Math.floor((i / size) * 30 * 86_400_000)).toISOString();
    if (i % 5000 === 0) ledger.grant({ org: `org-${i % 50}`, pico: 1000n * PICO_PER_CREDIT, kind: 'top_up', grantId: `g-${i}`, source: 'admin', by: 'admin-key', note: 'invoice' });
    ledger.record(record(i, ts));
    if (i % 1000 === 999) await new Promise((r) => setImmediate(r));
  }
  await ledger.flush();
  const seconds = (performance.now() - start) / 1000;
  await ledger.close();
  return seconds;
}

/** Runs this file as a child (`--child open|idle|verify`): its wall time and peak RSS. */
function child(kind: string, dir: string): { seconds: number; cpuSeconds: number; maxRssBytes: number; out: string } {
  const run = spawnSync(NODE, [SELF, '--child', kind, '--dir', dir], { encoding: 'utf8', maxBuffer: 64 << 20 });
  if (run.status !== 0) throw new Error(`child ${kind} failed: ${run.stderr}${run.stdout}`);
  return JSON.parse(run.stdout.trim().split('\n').at(-1)!);
}

/** User + system CPU seconds since `from` (wall time on a shared machine says less). */
function cpuSince(from: NodeJS.CpuUsage): number {
  const used = process.cpuUsage(from);
  return (used.user + used.system) / 1e6;
}

async function runChild(kind: string, dir: string): Promise<void> {
  const start = performance.now();
  const startCpu = process.cpuUsage();
  let out = '';
  if (kind === 'open') {
    const ledger = await Ledger.open({ dir });
    out = `head seq ${ledger.head.seq}`;
    const seconds = (performance.now() - start) / 1000;
    const maxRssBytes = process.resourceUsage().maxRSS * 1024;
    await ledger.close();
    console.log(JSON.stringify({ seconds, cpuSeconds: cpuSince(startCpu), maxRssBytes, out }));
    return;
  }
  if (kind === 'verify') {
    const { runLedgerCommand } = await import('../src/cli/ledger.ts');
    const code = await runLedgerCommand(['verify', '--dir', dir], '', { out: (s) => (out += s), err: (s) => (out += s) });
    if (code !== 0) throw new Error(out);
  }
  // idle: the code imported, nothing read.
  console.log(JSON.stringify({ seconds: (performance.now() - start) / 1000, cpuSeconds: cpuSince(startCpu), maxRssBytes: process.resourceUsage().maxRSS * 1024, out: out.trim() }));
}

async function atScale(root: string, size: number): Promise<void> {
  const dir = join(root, `scale-${size}`);
  const writeSeconds = await generate(dir, size);
  const files = readdirSync(dir).filter((f) => /^ledger-\d+\./.test(f));
  const bytes = files.reduce((sum, f) => sum + statSync(join(dir, f)).size, 0);
  const gzBytes = await gzippedBytes(files.map((f) => join(dir, f)));
  const idle = child('idle', dir);
  const open = child('open', dir);
  const verify = child('verify', dir);
  console.log(`ledger of ${size.toLocaleString('en')} charges: ${mb(bytes)} in ${files.length} file(s), ${(bytes / size).toFixed(0)} bytes per charge (checkpoints included), ${(gzBytes / size).toFixed(0)} gzip'd (archived); written in ${writeSeconds.toFixed(1)} s (${Math.round(size / writeSeconds).toLocaleString('en')} charges/s fsynced)`);
  console.log(`  time to ready:    ${open.seconds.toFixed(2)} s (${open.cpuSeconds.toFixed(2)} s CPU), peak RSS ${mb(open.maxRssBytes)} (idle process ${mb(idle.maxRssBytes)}: +${mb(open.maxRssBytes - idle.maxRssBytes)}); ${open.out}`);
  console.log(`  ledger verify:    ${verify.seconds.toFixed(2)} s (${verify.cpuSeconds.toFixed(2)} s CPU), peak RSS ${mb(verify.maxRssBytes)} (+${mb(verify.maxRssBytes - idle.maxRssBytes)})`);
  if (!values.keep) rmSync(dir, { recursive: true, force: true });
}

/** The files' bytes once gzip'd as the archive step does (zlib's default level), streamed. */
async function gzippedBytes(paths: string[]): Promise<number> {
  let total = 0;
  for (const path of paths) {
    const gzip = createGzip();
    gzip.on('data', (chunk: Buffer) => (total += chunk.length));
    await pipeline(createReadStream(path), gzip);
  }
  return total;
}

async function admission(): Promise<void> {
  const model = { model_id: 'gpt-6-luna', provider: 'openai', context_window: 1_050_000, max_output_tokens: 128_000, input_usd_per_1m: 0.1, output_usd_per_1m: 0.5 } as ModelRecord;
  const target = { provider: { name: 'openai' }, model, credential: { billing: 'managed' } } as unknown as Target;
  const config = {
    orgs: [{ id: 'acme', plan: 'p', wallet: { grants: [] } }],
    plans: { p: { allowance: null, models: null, providers: null, limits: { per_key: { rpm: 1e9, tpm: 1e12 }, per_org: { rpm: 1e9, tpm: 1e12 } } } },
  } as unknown as TollboothConfig;
  const store = new MemoryStateStore(new Accounts());
  await store.grant({ org: 'acme', grantId: 'bench', pico: 1_000_000_000n * PICO_PER_CREDIT, entry: '{}' });
  const gate = new AdmissionGate({ store });
  const body = { model: 'gpt-6-luna', messages: [{ role: 'user', content: 'Hello' }], max_tokens: 1000 };
  const request = (i: number): AdmissionRequest => ({
    caller: { keyId: `key-${i % 100}`, orgId: 'acme', role: 'member' },
    config,
    model,
    requestedModel: 'gpt-6-luna',
    operation: 'chat',
    targets: [target],
    inputBytes: 400,
    body,
  });
  const settled = record(0);
  const n = 200_000;
  for (let i = 0; i < 10_000; i++) (await gate.admit(request(i))).settle(settled);
  const start = performance.now();
  for (let i = 0; i < n; i++) (await gate.admit(request(i))).settle(settled);
  const us = ((performance.now() - start) * 1000) / n;
  console.log(`admission overhead: ${us.toFixed(2)} µs per request (plan check, RPM+TPM per key and org, credit hold, settle)`);
}

if (values.child) {
  await runChild(values.child, values.dir!);
} else {
  const dir = mkdtempSync(join(base, 'tollbooth-bench-ledger-'));
  try {
    console.log(`node ${process.version}, ledger in ${dir}, line format ${FORMAT}${values.bill ? ', managed charges with a bill' : ''}`);
    await throughput(join(dir, 'throughput'));
    await lowLoad(join(dir, 'low-load'));
    for (const size of values.sizes!.split(',').filter(Boolean).map(Number)) await atScale(dir, size);
    if (!values['skip-admission']) await admission();
  } finally {
    if (values.keep) console.log(`kept: ${dir}`);
    else rmSync(dir, { recursive: true, force: true });
  }
}
