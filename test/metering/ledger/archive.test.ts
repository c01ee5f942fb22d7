/**
 * Retention: closed files covered by a later checkpoint are compressed into the archive and only
 * then removed; the chain stays verifiable across the boundary (and a tampered archived file is
 * found); start-up is unchanged; a file no checkpoint covers is never archived; a failing archive
 * command keeps the file.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { afterEach, beforeEach, describe, test } from 'node:test';
import { runLedgerCommand } from '../../../src/cli/ledger.ts';
import { archiveSegments } from '../../../src/metering/ledger/archive.ts';
import { walkChain } from '../../../src/metering/ledger/chain.ts';
import { loadLedger, Replay } from '../../../src/metering/ledger/checkpoint.ts';
import { canonicalJson, GENESIS_HASH, sealEntry, type EntryBody } from '../../../src/metering/ledger/entry.ts';
import { Ledger } from '../../../src/metering/ledger/ledger.ts';
import { segmentName } from '../../../src/metering/ledger/segments.ts';
import { PICO_PER_CREDIT } from '../../../src/metering/credits.ts';
import { usageRecord } from './records.ts';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'tollbooth-archive-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const ledgerFiles = () => readdirSync(dir).filter((f) => f.endsWith('.jsonl')).sort();

async function write(n: number, options: Partial<Parameters<typeof Ledger.open>[0]> = {}): Promise<void> {
  const ledger = await Ledger.open({ dir, format: 1, maxFileBytes: 6000, ...options });
  for (let i = 0; i < n; i++) {
    ledger.record(usageRecord(i));
    if (i % 5 === 4) {
      await ledger.flush();
      await new Promise((resolve) => setImmediate(resolve));
    }
  }
  await ledger.close();
}

function stateNow(): string {
  const replay = new Replay();
  walkChain(dir, (e) => replay.apply(e));
  return canonicalJson(replay.state());
}

async function verify(): Promise<{ code: number; out: string }> {
  let out = '';
  const code = await runLedgerCommand(['verify', '--dir', dir], '/nonexistent.yaml', { out: (s) => (out += s), err: (s) => (out += s) });
  return { code, out };
}

describe('ledger retention', () => {
  test('closed files covered by a checkpoint are archived compressed; the chain verifies across the boundary; start-up is unchanged', async () => {
    await write(60);
    const before = ledgerFiles();
    assert.ok(before.length >= 4, before.join(', '));
    const state = stateNow();
    const lastCheckpointFile = before[loadLedger(dir).walk.segments.findIndex((s) => s.name === loadLedger(dir).checkpoint!.file)]!;

    const archived = await archiveSegments(dir, { archiveDir: 'archive', keepBytes: 0 });
    const kept = ledgerFiles();
    assert.deepEqual(archived.map((a) => a.name), before.slice(0, before.indexOf(lastCheckpointFile)));
    assert.equal(kept[0], lastCheckpointFile, 'kept from the file of the last checkpoint on');
    assert.deepEqual(readdirSync(join(dir, 'archive')).sort(), archived.map((a) => `${a.name}.gz`));
    const firstKept = JSON.parse(readFileSync(join(dir, kept[0]!), 'utf8').split('\n')[0]!);
    assert.equal(firstKept.prev_hash, archived.at(-1)!.last_hash, 'the first kept entry links to the last archived one');

    assert.equal(canonicalJson(loadLedger(dir).replay.state()), state, 'start-up state as before');
    const { code, out } = await verify();
    assert.equal(code, 0, out);
    assert.match(out, new RegExp(`note: ${archived.length} archived file\\(s\\) checked`));
    assert.match(out, /ok: \d+ entries in \d+ file\(s\) and \d+ archived, chain intact/);

    const ledger = await Ledger.open({ dir, format: 1 });
    await ledger.charge(usageRecord(1000)).acked;
    await ledger.close();
    assert.equal((await verify()).code, 0);

    // An archived file edited (and recompressed): found, with its place.
    const gz = join(dir, 'archive', `${archived[0]!.name}.gz`);
    const lines = gunzipSync(readFileSync(gz)).toString('utf8').split('\n');
    lines[2] = lines[2]!.replace(/"credits":"[^"]+"/, '"credits":"0.5"');
    writeFileSync(gz, gzipSync(lines.join('\n')));
    const tampered = await verify();
    assert.equal(tampered.code, 1, tampered.out);
    assert.match(tampered.out, new RegExp(`archive/${archived[0]!.name}\\.gz:3: hash does not match the entry`));
    assert.match(tampered.out, /the archived file is not the one archived/);
  });

  test('a file no checkpoint covers is never archived', async () => {
    await write(40);
    // The same chain without any checkpoint (a ledger from before them), 10 entries per file.
    const bodies = ledgerFiles()
      .flatMap((f) => readFileSync(join(dir, f), 'utf8').split('\n').filter(Boolean))
      .map((l) => JSON.parse(l))
      .filter((e) => e.type !== 'checkpoint')
      .map(({ seq, prev_hash, hash, ...body }) => body as EntryBody);
    for (const f of ledgerFiles()) rmSync(join(dir, f));
    let prev = GENESIS_HASH;
    bodies.forEach((body, i) => {
      const { entry, line } = sealEntry(body, i + 1, prev);
      prev = entry.hash;
      writeFileSync(join(dir, segmentName(1 + Math.floor(i / 10))), line, { flag: 'a' });
    });
    const before = ledgerFiles();
    assert.equal(before.length, 4);
    assert.deepEqual(await archiveSegments(dir, { archiveDir: 'archive', keepBytes: 0, keepDays: 0 }), []);
    assert.deepEqual(ledgerFiles(), before, 'nothing moved');

    // Once a start has written a checkpoint (at its close, in the newest file), the older files can go.
    const ledger = await Ledger.open({ dir, format: 1 });
    await ledger.close();
    const archived = await archiveSegments(dir, { archiveDir: 'archive', keepBytes: 0 });
    assert.deepEqual(archived.map((a) => a.name), before.slice(0, -1));
    assert.equal((await verify()).code, 0);
  });

  test('with ledger retention set, the ledger archives after a rotation once its checkpoint is durable', async () => {
    const ledger = await Ledger.open({ dir, format: 1, maxFileBytes: 6000, retention: { archiveDir: 'archive', keepBytes: 0 } });
    // Appends until the archive step (started by a rotation, after its checkpoint's fsync) has run.
    for (let i = 0; !existsSync(join(dir, 'archived.json')); i++) {
      assert.ok(i < 5000, 'archived while appending');
      ledger.record(usageRecord(i));
      await ledger.flush();
      await new Promise((resolve) => setImmediate(resolve));
    }
    await ledger.close();
    assert.ok(existsSync(join(dir, 'archived.json')), 'something was archived');
    assert.ok(readdirSync(join(dir, 'archive')).length >= 1);
    const { code, out } = await verify();
    assert.equal(code, 0, out);
  });

  test('an archive command that fails keeps the file', async () => {
    await write(60);
    const before = ledgerFiles();
    await assert.rejects(archiveSegments(dir, { archiveDir: 'archive', keepBytes: 0, command: 'exit 3' }), /archive command exited 3/);
    assert.deepEqual(ledgerFiles(), before);
    assert.equal(existsSync(join(dir, 'archived.json')), false);
    const archived = await archiveSegments(dir, { archiveDir: 'archive', keepBytes: 0, command: 'test -s "$TOLLBOOTH_ARCHIVE_FILE"' });
    assert.ok(archived.length > 0);
  });

  test('compact files: archived and verified across the boundary; `ledger summary` reads the archive with --archived, and its wallets are exact without', async () => {
    const ledger = await Ledger.open({ dir, maxFileBytes: 3000 });
    await ledger.grant({ org: 'acme', pico: 100n * PICO_PER_CREDIT, kind: 'grant', grantId: 'welcome', source: 'config', by: null, note: '' });
    for (let i = 0; i < 60; i++) {
      ledger.record(usageRecord(i));
      if (i % 5 === 4) {
        await ledger.flush();
        await new Promise((resolve) => setImmediate(resolve));
      }
    }
    await ledger.close();
    assert.ok(ledgerFiles().every((f) => f.endsWith('.v2.jsonl')), 'the default format');
    const whole = await summary([]);
    const archived = await archiveSegments(dir, { archiveDir: 'archive', keepBytes: 0 });
    assert.ok(archived.length >= 2, `${archived.length} archived`);
    assert.equal((await verify()).code, 0);

    const withArchive = await summary(['--archived']);
    assert.deepEqual({ ...withArchive, archived_files: null, files: whole.files }, whole, 'the whole history, as before archiving');
    assert.equal(withArchive.archived_files, archived.length);
    const without = await summary([]);
    assert.equal(without.archived_not_read, archived.length);
    assert.ok(without.first_seq > 1 && without.groups[0].requests < 60, 'totals cover the files still here');
    assert.deepEqual(without.wallets, whole.wallets, 'wallets are exact, taken from the checkpoint after the archived files');
  });
});

async function summary(flags: string[]): Promise<any> {
  let out = '';
  const code = await runLedgerCommand(['summary', '--dir', dir, '--json', ...flags], '/nonexistent.yaml', { out: (s) => (out += s), err: () => {} });
  assert.equal(code, 0);
  return JSON.parse(out);
}
