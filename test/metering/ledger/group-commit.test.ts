/**
 * Group commit: under load one fsync carries many entries; at low load an entry is in the file
 * after the commit window and acknowledged (durable) after the sync interval and one fsync, no
 * more; appending itself never waits on the disk; an acknowledgement means the entry is in the file.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, test } from 'node:test';
import { Ledger } from '../../../src/metering/ledger/ledger.ts';
import { seqAndHash } from '../../../src/metering/ledger/compact.ts';
import { listSegments } from '../../../src/metering/ledger/segments.ts';
import { createMetrics } from '../../../src/metrics/registry.ts';
import { usageRecord } from './records.ts';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'tollbooth-commit-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

/** The first ledger file, whatever its line format. */
function firstFile(): string {
  return listSegments(dir)[0]!.path;
}

function metricValue(text: string, name: string): number {
  const match = new RegExp(`^${name} (\\S+)$`, 'm').exec(text);
  assert.ok(match, `${name} is exported`);
  return Number(match[1]);
}

describe('ledger group commit', () => {
  test('under load, one fsync carries many entries', async () => {
    const metrics = createMetrics();
    const ledger = await Ledger.open({ dir, metrics, commitWindowMs: 2 });
    const n = 3000;
    for (let i = 0; i < n; i++) ledger.record(usageRecord(i));
    await ledger.flush();
    await ledger.close();
    const text = await metrics.registry.metrics();
    const fsyncs = metricValue(text, 'tollbooth_ledger_fsync_batch_entries_count');
    assert.equal(metricValue(text, 'tollbooth_ledger_fsync_batch_entries_sum'), n + 1, 'and the checkpoint written at close');
    assert.ok(fsyncs <= n / 100, `${n} entries took ${fsyncs} fsyncs`);
    const bytes = readFileSync(firstFile()).length;
    assert.equal(metricValue(text, 'tollbooth_ledger_bytes_total'), bytes);
  });

  test('at low load an entry is written after the commit window, acknowledged after the sync interval and one fsync; appending does not wait', async () => {
    // Only what cannot depend on the machine's speed is asserted: the order of the steps and the
    // least time each waits (timers never fire early by more than a millisecond).
    const windowMs = 20;
    const syncMs = 60;
    const ledger = await Ledger.open({ dir, commitWindowMs: windowMs, syncIntervalMs: syncMs });
    const lastLine = () => {
      const text = readFileSync(firstFile(), 'utf8').trimEnd();
      return text === '' ? null : seqAndHash(text.split('\n').at(-1)!).hash;
    };
    for (let i = 0; i < 3; i++) {
      const start = performance.now();
      const { entry, acked } = ledger.charge(usageRecord(i));
      assert.notEqual(lastLine(), entry.hash, 'appending returned before any write: it does not wait for the file');
      let writtenAt = 0;
      let ackedAt = 0;
      let inFileWhenAcked = false;
      const ack = acked.then(() => {
        ackedAt = performance.now() - start;
        inFileWhenAcked = lastLine() === entry.hash;
      });
      while (lastLine() !== entry.hash) await new Promise((r) => setTimeout(r, 2));
      writtenAt = performance.now() - start;
      await ack;
      assert.ok(writtenAt >= windowMs - 1, `written after the commit window (${writtenAt.toFixed(1)} ms)`);
      assert.ok(inFileWhenAcked, 'acknowledged only once it is in the file');
      assert.ok(ackedAt >= windowMs + syncMs - 1, `the entry waited the window and the sync interval for company (${ackedAt.toFixed(1)} ms)`);
    }
    await ledger.close();
  });

  test('sync_interval_ms 0: every write is synced at once', async () => {
    const metrics = createMetrics();
    const ledger = await Ledger.open({ dir, metrics, commitWindowMs: 0, syncIntervalMs: 0 });
    for (let i = 0; i < 3; i++) await ledger.charge(usageRecord(i)).acked;
    await ledger.close();
    // The fourth: the checkpoint written at close.
    assert.equal(metricValue(await metrics.registry.metrics(), 'tollbooth_ledger_fsync_batch_entries_count'), 4);
  });

  test('flush() resolves once everything appended so far is in the file', async () => {
    const ledger = await Ledger.open({ dir, commitWindowMs: 10_000, syncIntervalMs: 10_000 });
    for (let i = 0; i < 10; i++) ledger.record(usageRecord(i));
    const start = performance.now();
    await ledger.flush();
    assert.ok(performance.now() - start < 5_000, 'flush does not wait out the commit window');
    assert.equal(readFileSync(firstFile(), 'utf8').trimEnd().split('\n').length, 10);
    await ledger.close();
  });
});
