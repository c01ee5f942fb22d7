/**
 * The compact line format (2): a charge in ≤ 300 bytes that gives back every member it was
 * written with; a ledger that switches from format 1 to 2 keeps its old files readable, verifies
 * across the switch (checkpoints included), and an edited or deleted compact line is found.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, test } from 'node:test';
import { runLedgerCommand } from '../../../src/cli/ledger.ts';
import type { ModelRecord } from '../../../src/catalog/types.ts';
import { formatCredits, parseCredits } from '../../../src/metering/credits.ts';
import { charge as priceCharge, type BillStamp } from '../../../src/metering/pricing/bill.ts';
import { walkChain } from '../../../src/metering/ledger/chain.ts';
import { loadLedger, Replay } from '../../../src/metering/ledger/checkpoint.ts';
import { checkCompactLine, sealCompact } from '../../../src/metering/ledger/compact.ts';
import { canonicalJson, checkLine, sealEntry, type ChargeEntry, type LedgerEntry } from '../../../src/metering/ledger/entry.ts';
import { listSegments } from '../../../src/metering/ledger/segments.ts';
import { Ledger } from '../../../src/metering/ledger/ledger.ts';
import { usageRecord } from './records.ts';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'tollbooth-compact-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const PREV = 'b'.repeat(64);

function charge(n: number, overrides: Partial<ChargeEntry> = {}): Omit<ChargeEntry, 'seq' | 'prev_hash' | 'hash'> {
  return { type: 'charge', ...usageRecord(n), request_id: '0b5e9d6c-2f0c-4c55-9a43-3f1c7a2d9e11', period: null, from_allowance: '0', from_wallet: '1.000001', ...overrides };
}

async function verify(): Promise<{ code: number; out: string }> {
  let out = '';
  const code = await runLedgerCommand(['verify', '--dir', dir], '/nonexistent.yaml', { out: (s) => (out += s), err: (s) => (out += s) });
  return { code, out };
}

describe('compact ledger lines', () => {
  const variants: [string, Partial<ChargeEntry>][] = [
    ['a typical managed charge', {}],
    ['paid from the allowance', { period: '2026-05', from_allowance: '1.000001', from_wallet: '0' }],
    ['split between allowance and wallet', { period: '2026-05-14', from_allowance: '0.4', from_wallet: '0.600001' }],
    ['BYOK, streamed, native, nulls', { billing: 'byok', credits: '0', from_wallet: '0', stream: true, api: 'native', key_id: null, model: null, requested_model: null, ttfb_ms: null }],
    ['aliases and failures', { requested_model: 'gpt-4.1', upstream_model: 'gpt-4.1-nano-2026', credential: 'openai-team-b', status: 502, outcome: 'stream_error', usage_source: 'estimated', unpriced: true, attempts: 3, cached_tokens: 5, reasoning_tokens: 7 }],
    ['shared state', { instance: 'pod-a-1f2e', settle_id: 'c0ffee00-1111-2222-3333-444455556666', stream_id: '1700000000000-3', unsettled: true, over_hold: true }],
    ['a timestamp that is not toISOString output', { ts: '2026-05-14T12:00:00Z' }],
    ['from_wallet that is not the difference', { from_allowance: '0.5', from_wallet: '0.5' }],
  ];
  for (const [name, overrides] of variants) {
    test(`${name}: canonical, every member given back`, () => {
      const body = charge(3, overrides);
      const { entry, line } = sealCompact(body, 12345, PREV);
      const text = line.slice(0, -1);
      const withoutH = `${text.slice(0, text.lastIndexOf(',"h":"'))}}`;
      assert.equal(withoutH, canonicalJson(JSON.parse(withoutH)), 'members in canonical order');
      const checked = checkCompactLine(text, PREV);
      assert.equal(checked.ok, true);
      assert.deepEqual({ ...checked.entry }, { ...body, seq: 12345, prev_hash: PREV, hash: entry.hash });
      assert.equal(checkCompactLine(text, 'c'.repeat(64)).ok, false, 'the hash covers the previous hash');
    });
  }

  test('a charge takes at most 300 bytes with a UUID request id (about 310 with an instance and a settle id)', () => {
    const plain = sealCompact(charge(3, { period: '2026-05', from_allowance: '0.4', from_wallet: '0.600001' }), 123_456_789, PREV).line;
    const shared = sealCompact(charge(3, { instance: 'tollbooth-7f9c-1a2b3c4d', settle_id: 'c0ffee00-1111-2222-3333-444455556666' }), 123_456_789, PREV).line;
    assert.ok(Buffer.byteLength(plain) <= 300, `${Buffer.byteLength(plain)} bytes: ${plain}`);
    assert.ok(Buffer.byteLength(shared) <= 320, `${Buffer.byteLength(shared)} bytes: ${shared}`);
  });

  test('a bill is carried as `bl` in its compact form, canonical, and given back exactly; format 1 keeps it whole', () => {
    const bill = {
      rate: 'gpt-5.1@base',
      catalog: 'c1a2b3c4d5e6',
      usage: { output: 211, input: 812, cache_read: 2048 },
      rates: { input: '1.25', cache_read: '0.125', output: '10' },
      credits: { run: '1', input: '0.001065750', cache_read: '0.000268800', output: '0.002215500' },
    };
    const body = { ...charge(3), bill } as Omit<ChargeEntry, 'seq' | 'prev_hash' | 'hash'>;
    const { entry, line } = sealCompact(body, 7, PREV);
    const text = line.slice(0, -1);
    const raw = JSON.parse(text);
    assert.equal(raw.type, undefined, 'still the compact form');
    assert.deepEqual(raw.bl, {
      c: 'c1a2b3c4d5e6',
      k: { cr: '0.000268800', i: '0.001065750', o: '0.002215500' },
      p: { cr: '0.125', i: '1.25', o: '10' },
      r: 'gpt-5.1@base',
      u: { cr: 2048, i: 812, o: 211 },
    }, 'short keys; the run credit (always 1) left out; the usage kept: the charge\'s own token fields give other classes');
    const withoutH = `${text.slice(0, text.lastIndexOf(',"h":"'))}}`;
    assert.equal(withoutH, canonicalJson(JSON.parse(withoutH)), 'the whole line canonical');
    const checked = checkCompactLine(text, PREV);
    assert.equal(checked.ok, true);
    assert.deepEqual({ ...checked.entry }, { ...body, seq: 7, prev_hash: PREV, hash: entry.hash });
    const edited = text.replace('"o":"0.002215500"', '"o":"0.002215501"');
    assert.equal(checkCompactLine(edited, PREV).ok, false, 'the bill is covered by the hash');

    const v1 = sealEntry(body, 7, PREV);
    const back = checkLine(v1.line.slice(0, -1));
    assert.equal(back.ok, true);
    assert.deepEqual(back.entry, v1.entry);
    assert.deepEqual((back.entry as unknown as { bill: unknown }).bill, bill, 'format 1 keeps it too (not dropped by the fast path)');
  });

  test("the meter's own bill: its usage derived from the charge's tokens, its rate id from the model; given back exactly, ≤ 400 bytes a charge with four classes", () => {
    const model = { model_id: 'gpt-5.1', input_usd_per_1m: 1.25, output_usd_per_1m: 10, cache_read_usd_per_1m: 0.125 } as ModelRecord;
    const usage = { prompt_tokens: 2860, completion_tokens: 211, cached_tokens: 2048, reasoning_tokens: 64, source: 'reported' as const };
    const priced = priceCharge({ usage, model, billing: 'managed', operation: 'chat', served: true, at: Date.parse('2026-05-14T12:00:00Z') });
    const body = charge(3, {
      model: 'gpt-5.1', requested_model: 'gpt-5.1', upstream_model: 'gpt-5.1', credits: formatCredits(priced.pico), from_wallet: formatCredits(priced.pico),
      prompt_tokens: 2860, completion_tokens: 211, cached_tokens: 2048, reasoning_tokens: 64, bill: priced.bill!,
    });
    const { entry, line } = sealCompact(body, 123_456_789, PREV);
    const raw = JSON.parse(line);
    assert.equal(raw.bl.u, undefined, 'usage derived from pt, ct, ca, rt');
    assert.equal(raw.bl.r, '@base', 'rate id without the model it names');
    const checked = checkCompactLine(line.slice(0, -1), PREV);
    assert.equal(checked.ok, true);
    assert.deepEqual({ ...checked.entry }, { ...body, seq: 123_456_789, prev_hash: PREV, hash: entry.hash });
    // ~245 bytes without a bill; the stamp adds its catalog version, rate id, rates and credits per class.
    assert.ok(Buffer.byteLength(line) <= 400, `${Buffer.byteLength(line)} bytes: ${line}`);

    // A stamp the codec cannot give back exactly (a member it does not know) is carried as it is.
    const odd = { ...body, bill: { ...priced.bill!, note: 'hand-made' } as unknown as BillStamp };
    const sealed = sealCompact(odd, 9, PREV);
    assert.equal(JSON.parse(sealed.line).bl.catalog, priced.bill!.catalog, 'verbatim');
    assert.deepEqual({ ...checkCompactLine(sealed.line.slice(0, -1), PREV).entry }, { ...odd, seq: 9, prev_hash: PREV, hash: sealed.entry.hash });
  });

  test('a charge with a member neither table knows is written whole, and given back whole', () => {
    const body = { ...charge(3), surprise: { why: 'new member' } } as Omit<ChargeEntry, 'seq' | 'prev_hash' | 'hash'>;
    const { entry, line } = sealCompact(body, 8, PREV);
    assert.equal(JSON.parse(line).type, 'charge', 'the whole form');
    const checked = checkCompactLine(line.slice(0, -1), PREV);
    assert.equal(checked.ok, true);
    assert.deepEqual({ ...checked.entry }, { ...body, seq: 8, prev_hash: PREV, hash: entry.hash });
  });

  test('without a configured format: new ledgers are compact; a format-1 ledger keeps its files and goes on in a new compact one', async () => {
    let ledger = await Ledger.open({ dir });
    await ledger.charge(usageRecord(0)).acked;
    await ledger.close();
    assert.deepEqual(listSegments(dir).map((s) => s.name), ['ledger-000001.v2.jsonl']);
    rmSync(dir, { recursive: true, force: true });

    ledger = await Ledger.open({ dir, format: 1 });
    await ledger.charge(usageRecord(1)).acked;
    await ledger.close();
    ledger = await Ledger.open({ dir, maxFileBytes: 3000 });
    for (let i = 2; i < 30; i++) ledger.record(usageRecord(i));
    await ledger.close();
    const names = listSegments(dir).map((s) => s.name);
    assert.equal(names[0], 'ledger-000001.jsonl', 'the old file stays');
    assert.ok(names.length > 1 && names.slice(1).every((n) => n.endsWith('.v2.jsonl')), names.join(', '));
    assert.equal((await verify()).code, 0);
    const charges: LedgerEntry[] = [];
    walkChain(dir, (e) => e.type === 'charge' && charges.push(e));
    assert.deepEqual(charges.map((c) => (c as ChargeEntry).request_id), Array.from({ length: 29 }, (_, i) => `req-${i + 1}`));
  });

  test('a ledger switched from format 1 to 2: old files stay as they are, the chain and its checkpoints verify across, edits are found', async () => {
    let ledger = await Ledger.open({ dir, format: 1, checkpointEvery: 5 });
    for (let i = 0; i < 12; i++) ledger.record(usageRecord(i));
    await ledger.close();
    const v1 = readFileSync(join(dir, 'ledger-000001.jsonl'));
    ledger = await Ledger.open({ dir, format: 2, checkpointEvery: 5, maxFileBytes: 2000 });
    for (let i = 12; i < 40; i++) {
      ledger.record(usageRecord(i));
      if (i % 4 === 0) await new Promise((resolve) => setImmediate(resolve));
    }
    ledger.grant({ org: 'acme', pico: parseCredits('10'), kind: 'top_up', grantId: 't-1', source: 'admin', by: 'owner', note: '' });
    await ledger.close();
    const files = readdirSync(dir).filter((f) => f.endsWith('.jsonl')).sort();
    assert.equal(files[0], 'ledger-000001.jsonl');
    assert.ok(files.slice(1).every((f) => f.endsWith('.v2.jsonl')) && files.length > 2, files.join(', '));
    assert.deepEqual(readFileSync(join(dir, 'ledger-000001.jsonl')), v1, 'the old file is untouched');

    const { code, out } = await verify();
    assert.equal(code, 0, out);
    const full = new Replay();
    const walk = walkChain(dir, (e) => full.apply(e));
    assert.equal(walk.problems.length, 0);
    const loaded = loadLedger(dir);
    assert.ok(loaded.checkpoint?.file.endsWith('.v2.jsonl'), 'the start begins at a checkpoint in a compact file');
    assert.equal(canonicalJson(loaded.replay.state()), canonicalJson(full.state()));
    assert.equal(full.accounts.snapshot('acme').charged, 40n * parseCredits('1.000001'));
    ledger = await Ledger.open({ dir });
    await ledger.charge(usageRecord(40)).acked;
    await ledger.close();
    assert.equal((await verify()).code, 0, 'reopened without a format: goes on compact');

    const target = join(dir, files[1]!);
    const lines = readFileSync(target, 'utf8').split('\n').filter(Boolean);
    writeFileSync(target, lines.map((l, i) => (i === 2 ? l.replace(/"pt":\d+/, '"pt":1') : l)).map((l) => `${l}\n`).join(''));
    const edited = await verify();
    assert.equal(edited.code, 1);
    assert.match(edited.out, new RegExp(`^${files[1]!.replace(/\./g, '\\.')}:3: hash does not match the entry`, 'm'));
    writeFileSync(target, lines.filter((_, i) => i !== 2).map((l) => `${l}\n`).join(''));
    const deleted = await verify();
    assert.equal(deleted.code, 1);
    assert.match(deleted.out, new RegExp(`^${files[1]!.replace(/\./g, '\\.')}:3: .*1 entry is missing`, 'm'));
  });
});
