/**
 * `tollbooth ledger rebill` as an operator runs it: over a ledger of stamped charges it finds 0
 * differences (exit 0); a charge whose booked credits its stamp does not add up to is named with
 * its file and line (exit 1); `--catalog` prices the same traffic with another catalog directory
 * and lists what would change (exit 0: a preview).
 */
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, test } from 'node:test';
import { parse, stringify } from 'yaml';
import { runLedgerCommand } from '../../src/cli/ledger.ts';
import { formatCredits } from '../../src/metering/credits.ts';
import { Ledger } from '../../src/metering/ledger/ledger.ts';
import { charge } from '../../src/metering/pricing/bill.ts';
import type { Usage } from '../../src/metering/usage.ts';
import { CATALOG_DIR, loadTestCatalog } from '../support/catalog.ts';
import { usageRecord } from '../metering/ledger/records.ts';

const MODEL = 'claude-sonnet-4.6';
let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'tollbooth-rebill-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

async function rebillCli(...args: string[]): Promise<{ code: number; out: string }> {
  let out = '';
  const code = await runLedgerCommand(['rebill', '--dir', join(dir, 'ledger'), ...args], '/nonexistent.yaml', { out: (s) => (out += s), err: (s) => (out += s) });
  return { code, out };
}

/** Writes managed charges priced by the real catalog (as the meter would), plus one BYOK call. */
async function writeLedger(tamper = false): Promise<void> {
  const model = loadTestCatalog().resolve(MODEL).model;
  const ledger = await Ledger.open({ dir: join(dir, 'ledger') });
  const usages: Usage[] = [
    { prompt_tokens: 1200, completion_tokens: 300, cached_tokens: 1000, reasoning_tokens: 0, source: 'reported' },
    { prompt_tokens: 5000, completion_tokens: 40, cached_tokens: 0, reasoning_tokens: 0, cache_write_5m_tokens: 4000, source: 'reported' },
  ];
  usages.forEach((usage, i) => {
    const at = Date.parse(usageRecord(i).ts);
    const { pico, bill } = charge({ usage, model, billing: 'managed', operation: 'chat', served: true, at });
    const booked = tamper && i === 1 ? pico + 1n : pico;
    ledger.record(usageRecord(i, { model: MODEL, prompt_tokens: usage.prompt_tokens, completion_tokens: usage.completion_tokens, cached_tokens: usage.cached_tokens, credits: formatCredits(booked), bill: bill!, duration_ms: 0 }));
  });
  ledger.record(usageRecord(9, { billing: 'byok', credits: '0' }));
  await ledger.flush();
  await ledger.close();
}

describe('tollbooth ledger rebill', () => {
  test('stamped charges: 0 differences, credits by class, exit 0', async () => {
    await writeLedger();
    const { code, out } = await rebillCli();
    assert.equal(code, 0, out);
    assert.match(out, /3 charge\(s\): 2 recomputed from their stamps, 1 without a stamp/);
    assert.match(out, /cache_read\s+\d/);
    assert.match(out, /cache_write_5m\s+\d/);
    assert.match(out, /; 0 difference\(s\)/);
  });

  test('a charge booked differently from its stamp: named with file and line, exit 1', async () => {
    await writeLedger(true);
    const { code, out } = await rebillCli();
    assert.equal(code, 1, out);
    assert.match(out, /ledger-000001\.v2\.jsonl:2: seq 2 acme claude-sonnet-4\.6 booked \S+ rebilled \S+ \(-0\.000000000001\): the stamp does not add up to the booked credits/);
    assert.match(out, /; 1 difference\(s\)/);
  });

  test('--catalog: the same traffic at other prices, the differences listed, exit 0', async () => {
    await writeLedger();
    const preview = join(dir, 'catalog');
    cpSync(CATALOG_DIR, preview, { recursive: true });
    const file = join(preview, 'models', 'anthropic.yaml');
    const doc = parse(readFileSync(file, 'utf8'));
    const sonnet = doc.models.find((m: { model_id: string }) => m.model_id === MODEL);
    // Cache reads at the input price in the preview: the first charge (1,000 cached tokens) costs more.
    delete sonnet.cache_read_usd_per_1m;
    writeFileSync(file, stringify(doc));
    const { code, out } = await rebillCli('--catalog', preview);
    assert.equal(code, 0, out);
    assert.match(out, /priced by the catalog in .* \(price version c[0-9a-f]{12}\)/);
    assert.match(out, /seq 1 acme claude-sonnet-4\.6 booked \S+ rebilled \S+ \(\+\S+\): priced differently by that catalog/);
    assert.match(out, /; 1 difference\(s\)/);
  });
});
