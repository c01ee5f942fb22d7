/**
 * Ledger and admission figures on this machine:
 *   node_modules/.bin/node bench/ledger.ts [--entries N] [--dir DIR]
 *
 * - throughput: N charges appended as fast as the loop can (yielding every 1000 so commits run),
 *   every one fsynced by group commit; entries/s, fsyncs, entries per fsync;
 * - low load: one charge every 5 ms; the time to its acknowledgement (commit window + sync interval
 *   + one fsync, the defaults: 2 ms and 20 ms);
 * - replay: opening the ledger of N entries (chain check + balances);
 * - admission: admit + settle per request (plan with RPM/TPM limits and a credit hold), in µs.
 * The ledger lives in a temp dir on the same filesystem as /tmp unless --dir says otherwise.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Accounts } from '../src/metering/ledger/accounts.ts';
import { MemoryStateStore } from '../src/state/memory-store.ts';
import { AdmissionGate, type AdmissionRequest } from '../src/admission/gate.ts';
import type { ModelRecord } from '../src/catalog/types.ts';
import type { TollboothConfig } from '../src/config/types.ts';
import { PICO_PER_CREDIT } from '../src/metering/credits.ts';
import { Ledger } from '../src/metering/ledger/ledger.ts';
import type { UsageRecord } from '../src/metering/record.ts';
import { createMetrics } from '../src/metrics/registry.ts';
import type { Target } from '../src/routing/target.ts';

const { values } = parseArgs({ options: { entries: { type: 'string', default: '200000' }, dir: { type: 'string' } } });
const N = Number(values.entries);
const base = values.dir ?? tmpdir();

function record(n: number): UsageRecord {
  return {
    ts: new Date().toISOString(),
    request_id: `bench-${n}`,
    org: `org-${n % 10}`,
    key_id: 'bench-key',
    api: 'unified',
    operation: 'chat',
    stream: n % 2 === 0,
    requested_model: 'gpt-6-luna',
    model: 'gpt-6-luna',
    provider: 'openai',
    upstream_model: 'gpt-6-luna',
    credential: 'openai',
    billing: 'managed',
    status: 200,
    outcome: 'ok',
    prompt_tokens: 100 + (n % 50),
    completion_tokens: 300 + (n % 70),
    cached_tokens: 0,
    reasoning_tokens: 0,
    usage_source: 'reported',
    credits: '1.15414',
    unpriced: false,
    attempts: 1,
    duration_ms: 123.456,
    ttfb_ms: 45.6,
  };
}

function metric(text: string, name: string): number {
  return Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1] ?? NaN);
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

async function throughput(dir: string): Promise<void> {
  const metrics = createMetrics();
  const ledger = await Ledger.open({ dir, metrics, commitWindowMs: 2, syncIntervalMs: 20 });
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

async function replay(dir: string): Promise<void> {
  const start = performance.now();
  const ledger = await Ledger.open({ dir });
  const seconds = (performance.now() - start) / 1000;
  const entries = ledger.head.seq;
  await ledger.close();
  console.log(`replay at start:    ${Math.round(entries / seconds).toLocaleString('en')} entries/s (${entries} entries checked and replayed in ${seconds.toFixed(2)} s)`);
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

const dir = mkdtempSync(join(base, 'tollbooth-bench-ledger-'));
try {
  console.log(`node ${process.version}, ledger in ${dir}`);
  await throughput(join(dir, 'throughput'));
  await replay(join(dir, 'throughput'));
  await lowLoad(join(dir, 'low-load'));
  await admission();
} finally {
  rmSync(dir, { recursive: true, force: true });
}
