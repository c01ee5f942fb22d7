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
import { parseCredits } from '../../../src/metering/credits.ts';
import { walkChain } from '../../../src/metering/ledger/chain.ts';
import { loadLedger, Replay } from '../../../src/metering/ledger/checkpoint.ts';
import { checkCompactLine, sealCompact } from '../../../src/metering/ledger/compact.ts';
import { canonicalJson, type ChargeEntry } from '../../../src/metering/ledger/entry.ts';
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

  test('a ledger switched from format 1 to 2: old files stay as they are, the chain and its checkpoints verify across, edits are found', async () => {
    let ledger = await Ledger.open({ dir, checkpointEvery: 5 });
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
    assert.equal((await verify()).code, 0, 'reopened without a format: goes on in the newest file\'s');

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
