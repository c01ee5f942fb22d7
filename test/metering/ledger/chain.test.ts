/**
 * The ledger's chain on disk: seq, prev_hash and hash on every line (the hash recomputed here from
 * the entry, independently of the code), rotation that carries the chain into the next file,
 * reopening that continues it, and balances rebuilt by replay with the spend order written down.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, test } from 'node:test';
import { Ledger } from '../../../src/metering/ledger/ledger.ts';
import { parseCredits, PICO_PER_CREDIT } from '../../../src/metering/credits.ts';
import { usageRecord } from './records.ts';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'tollbooth-ledger-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function files(): string[] {
  return readdirSync(dir).filter((f) => f.endsWith('.jsonl')).sort();
}

function lines(file: string): string[] {
  return readFileSync(join(dir, file), 'utf8').split('\n').filter(Boolean);
}

/** sha256 over the entry without `hash`, keys sorted, no whitespace: written here from the format's definition. */
function expectedHash(entry: Record<string, unknown>): string {
  const { hash: _, ...rest } = entry;
  const sorted = Object.fromEntries(Object.keys(rest).sort().map((k) => [k, rest[k]]));
  return createHash('sha256').update(JSON.stringify(sorted)).digest('hex');
}

describe('ledger chain', () => {
  test('every line carries seq, prev_hash and its own hash; charges keep every UsageRecord field', async () => {
    const ledger = await Ledger.open({ dir, format: 1 });
    const records = [usageRecord(1), usageRecord(2, { billing: 'byok', credits: '0' }), usageRecord(3, { credits: '12.000000000001' })];
    for (const r of records) ledger.record(r);
    ledger.grant({ org: 'acme', pico: 5n * PICO_PER_CREDIT, kind: 'top_up', grantId: 'g-1', source: 'admin', by: 'acme-owner', note: 'hello' });
    await ledger.close();

    const entries = lines(files()[0]!).map((l) => JSON.parse(l));
    assert.equal(entries.length, 5);
    assert.equal(entries[4].type, 'checkpoint', 'a clean close ends with a checkpoint');
    let prev = '0'.repeat(64);
    entries.forEach((e, i) => {
      assert.equal(e.seq, i + 1);
      assert.equal(e.prev_hash, prev);
      assert.equal(e.hash, expectedHash(e));
      prev = e.hash;
    });
    records.forEach((r, i) => {
      assert.equal(entries[i].type, 'charge');
      for (const [field, value] of Object.entries(r)) assert.deepEqual(entries[i][field], value, `charge ${i + 1} keeps ${field}`);
    });
    assert.deepEqual(
      { type: entries[3].type, org: entries[3].org, credits: entries[3].credits, kind: entries[3].kind, grant_id: entries[3].grant_id, by: entries[3].by },
      { type: 'grant', org: 'acme', credits: '5', kind: 'top_up', grant_id: 'g-1', by: 'acme-owner' },
    );
  });

  test('rotation by size keeps the chain across files, and a reopened ledger continues it', async () => {
    const maxFileBytes = 4000;
    let ledger = await Ledger.open({ dir, format: 1, maxFileBytes });
    for (let i = 0; i < 60; i++) {
      ledger.record(usageRecord(i));
      // Written one by one, so rotations happen while the ledger runs (each is followed by a checkpoint).
      await ledger.flush();
      await new Promise((resolve) => setImmediate(resolve));
    }
    await ledger.close();

    const names = files();
    assert.ok(names.length >= 3, `rotated into several files (${names.join(', ')})`);
    for (const name of names) assert.ok(statSync(join(dir, name)).size <= maxFileBytes, `${name} stays within max_file_bytes`);
    for (let i = 1; i < names.length; i++) {
      const last = JSON.parse(lines(names[i - 1]!).at(-1)!);
      const first = JSON.parse(lines(names[i]!)[0]!);
      assert.equal(first.prev_hash, last.hash, `${names[i]} starts with the hash of ${names[i - 1]}'s last entry`);
      assert.equal(first.seq, last.seq + 1);
    }

    ledger = await Ledger.open({ dir, format: 1, maxFileBytes });
    const head = ledger.head.seq;
    assert.equal(ledger.balance('acme').charged, 60n * parseCredits('1.000001'));
    await ledger.charge(usageRecord(60)).acked;
    await ledger.close();
    const all = files().flatMap((f) => lines(f).map((l) => JSON.parse(l)));
    assert.equal(all.filter((e) => e.type === 'charge').length, 61);
    const checkpoints = all.filter((e) => e.type === 'checkpoint');
    assert.ok(checkpoints.length >= names.length - 1, `a checkpoint after each rotation (${checkpoints.length} in ${names.length} files)`);
    assert.equal(all.find((e) => e.request_id === 'req-60').seq, head + 1);
    all.forEach((e, i) => {
      assert.equal(e.seq, i + 1);
      if (i > 0) assert.equal(e.prev_hash, all[i - 1].hash);
      assert.equal(e.hash, expectedHash(e));
    });
  });

  test('balances are a replay: allowance first, then wallet, with the split written in each charge', async () => {
    const allowance = { pico: 2n * PICO_PER_CREDIT, period: 'monthly' as const };
    let ledger = await Ledger.open({ dir, format: 1, allowanceOf: (org) => (org === 'acme' ? allowance : null) });
    ledger.grant({ org: 'acme', pico: 10n * PICO_PER_CREDIT, kind: 'grant', grantId: 'welcome', source: 'config', by: null, note: '' });
    ledger.record(usageRecord(1, { credits: '1.5' }));
    ledger.record(usageRecord(2, { credits: '1.5' }));
    ledger.record(usageRecord(3, { credits: '0.25', ts: '2026-06-01T00:00:00.000Z' }));
    await ledger.close();

    const charges = lines(files()[0]!).map((l) => JSON.parse(l)).filter((e) => e.type === 'charge');
    assert.deepEqual(
      charges.map((c) => [c.period, c.from_allowance, c.from_wallet]),
      [
        ['2026-05', '1.5', '0'],
        ['2026-05', '0.5', '1'],
        ['2026-06', '0.25', '0'],
      ],
    );

    // Reopened with no plan at all: the balances come from the entries, not from today's plan.
    ledger = await Ledger.open({ dir, format: 1 });
    const may = ledger.accounts.balance('acme', allowance, new Date('2026-05-20T00:00:00Z'));
    assert.equal(may.allowanceUsed, 2n * PICO_PER_CREDIT);
    assert.equal(may.allowanceRemaining, 0n);
    assert.equal(may.wallet, 9n * PICO_PER_CREDIT);
    assert.equal(may.spendable, 9n * PICO_PER_CREDIT);
    const june = ledger.accounts.balance('acme', allowance, new Date('2026-06-02T00:00:00Z'));
    assert.equal(june.allowanceRemaining, 2n * PICO_PER_CREDIT - PICO_PER_CREDIT / 4n);
    assert.equal(june.spendable, 9n * PICO_PER_CREDIT + 2n * PICO_PER_CREDIT - PICO_PER_CREDIT / 4n);
    await ledger.close();
  });

  test('a config grant is recorded once, across restarts', async () => {
    const orgs = [{ id: 'acme', wallet: { grants: [{ id: 'welcome', credits: '100.5', note: 'launch' }] } }];
    let ledger = await Ledger.open({ dir, format: 1 });
    await ledger.applyConfigGrants(orgs);
    await ledger.applyConfigGrants(orgs);
    await ledger.close();
    ledger = await Ledger.open({ dir, format: 1 });
    await ledger.applyConfigGrants(orgs);
    assert.equal(ledger.balance('acme').wallet, 100n * PICO_PER_CREDIT + PICO_PER_CREDIT / 2n);
    await ledger.close();
    const grants = lines(files()[0]!).map((l) => JSON.parse(l)).filter((e) => e.type !== 'checkpoint');
    assert.deepEqual(
      grants.map((g) => [g.type, g.grant_id, g.credits, g.source, g.note]),
      [['grant', 'welcome', '100.5', 'config', 'launch']],
    );
  });

  test('open refuses to append to a chain broken after its last checkpoint, naming the line and `ledger repair`', async () => {
    const ledger = await Ledger.open({ dir, format: 1 });
    for (let i = 0; i < 3; i++) ledger.record(usageRecord(i));
    await ledger.close();
    const file = join(dir, files()[0]!);
    // Without the closing checkpoint (as after a crash), the start checks every line from the first.
    const kept = lines(files()[0]!).filter((l) => !l.startsWith('{"checkpoint":'));
    writeFileSync(file, kept.map((l) => `${l}\n`).join('').replace('"prompt_tokens":11', '"prompt_tokens":1'));
    await assert.rejects(Ledger.open({ dir, format: 1 }), (err: Error) => {
      assert.equal(err.name, 'LedgerCorruptError');
      assert.match(err.message, /ledger-000001\.jsonl:2: hash does not match/);
      assert.match(err.message, /`tollbooth ledger repair --dir /);
      return true;
    });
  });
});
