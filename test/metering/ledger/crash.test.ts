/**
 * Crash safety. A child process appending charges at full speed is SIGKILLed mid-stream; after a
 * restart the chain verifies and every entry acknowledged before the kill is there. A torn last
 * line (a write cut short) is set aside to the quarantine directory and reported, never dropped.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { appendFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterEach, beforeEach, describe, test } from 'node:test';
import { walkChain } from '../../../src/metering/ledger/chain.ts';
import { loadLedger, Replay } from '../../../src/metering/ledger/checkpoint.ts';
import { canonicalJson } from '../../../src/metering/ledger/entry.ts';
import { Ledger } from '../../../src/metering/ledger/ledger.ts';
import { createMetrics } from '../../../src/metrics/registry.ts';
import { createLogger } from '../../../src/util/log.ts';
import { usageRecord } from './records.ts';

const NODE = new URL('../../../node_modules/.bin/node', import.meta.url).pathname;
const CLI = new URL('../../../src/cli.ts', import.meta.url).pathname;
const CHILD = new URL('./crash-child.ts', import.meta.url).pathname;

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'tollbooth-crash-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function entriesOnDisk(): Record<string, any>[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.jsonl'))
    .sort()
    .flatMap((f) => readFileSync(join(dir, f), 'utf8').split('\n'))
    .filter((l) => l.startsWith('{') && l.endsWith('}'))
    .map((l) => JSON.parse(l));
}

function cliVerify(): { code: number | null; out: string } {
  const run = spawnSync(NODE, [CLI, 'ledger', 'verify', '--dir', dir], { encoding: 'utf8' });
  return { code: run.status, out: run.stdout + run.stderr };
}

describe('ledger crash safety', () => {
  test('SIGKILL mid-stream: after restart the chain verifies and every acknowledged entry is present', { timeout: 60_000 }, async () => {
    const child = spawn(NODE, [CHILD, dir], { stdio: ['ignore', 'pipe', 'inherit'] });
    const exited = new Promise<NodeJS.Signals | null>((resolve) => child.once('exit', (_code, signal) => resolve(signal)));
    let acked = 0;
    let buffered = '';
    await new Promise<void>((resolve, reject) => {
      void exited.then((signal) => reject(new Error(`the child ended before the kill (${signal})`)));
      child.stdout.on('data', (chunk: Buffer) => {
        if (child.killed) return;
        buffered += chunk.toString('utf8');
        const lines = buffered.split('\n');
        buffered = lines.pop()!;
        for (const line of lines) acked = Math.max(acked, Number(line));
        if (acked >= 5_000) {
          child.kill('SIGKILL');
          resolve();
        }
      });
    });
    assert.equal(await exited, 'SIGKILL');

    // The start from the last complete checkpoint builds what a full replay builds.
    const full = new Replay();
    walkChain(dir, (entry) => full.apply(entry));
    const loaded = loadLedger(dir);
    assert.ok(loaded.checkpoint, 'checkpoints were written before the kill');
    assert.equal(canonicalJson(loaded.replay.state()), canonicalJson(full.state()));

    const ledger = await Ledger.open({ dir, format: 1 });
    assert.ok(ledger.head.seq >= acked, `head seq ${ledger.head.seq} covers the last acknowledged seq ${acked}`);
    await ledger.charge(usageRecord(999_999)).acked;
    await ledger.close();

    const { code, out } = cliVerify();
    assert.equal(code, 0, out);
    const entries = entriesOnDisk();
    entries.forEach((e, i) => assert.equal(e.seq, i + 1, 'seq without gap'));
    assert.ok(entries.length >= acked);
    // Charges in the order they were appended, none missing up to the last acknowledged one
    // (checkpoints after rotations sit between them).
    const charges = entries.filter((e) => e.seq <= acked && e.type === 'charge');
    charges.forEach((e, i) => assert.equal(e.request_id, `req-${i}`, `acknowledged charge ${i} is present`));
    assert.equal(charges.length + entries.filter((e) => e.seq <= acked && e.type === 'checkpoint').length, acked);
    assert.ok(readdirSync(dir).filter((f) => f.endsWith('.jsonl')).length > 1, 'the kill came after at least one rotation');
  });

  test('a torn last line is quarantined and reported (log + metric); the chain continues from the last good entry', async () => {
    let ledger = await Ledger.open({ dir, format: 1 });
    for (let i = 0; i < 5; i++) ledger.record(usageRecord(i));
    await ledger.close();
    const file = join(dir, 'ledger-000001.jsonl');
    const good = readFileSync(file);
    const lastGood = JSON.parse(good.toString('utf8').trimEnd().split('\n').at(-1)!);
    // Half of a seventh line (after 5 charges and the checkpoint written at close), as a crash mid-write leaves it.
    const torn = Buffer.from(`{"api":"unified","billing":"managed","cached_tokens":0,"completion_tokens":2`);
    appendFileSync(file, torn);

    const before = cliVerify();
    assert.equal(before.code, 0, 'a torn tail is a crash artefact, not an alteration');
    assert.match(before.out, /note: ledger-000001\.jsonl:7: \d+ bytes of a torn last line/);

    const logs: Record<string, any>[] = [];
    const sink = new Writable({
      write(chunk, _enc, done) {
        logs.push(JSON.parse(chunk.toString('utf8')));
        done();
      },
    });
    const metrics = createMetrics();
    ledger = await Ledger.open({ dir, format: 1, metrics, log: createLogger('info', sink) });

    const quarantined = join(dir, 'quarantine', `ledger-000001.jsonl.${good.length}.torn`);
    assert.ok(existsSync(quarantined), 'the torn bytes are kept in the quarantine directory');
    assert.deepEqual(readFileSync(quarantined), torn);
    assert.deepEqual(readFileSync(file), good, 'the ledger file is back to its last complete line');
    assert.deepEqual(ledger.torn, { file: 'ledger-000001.jsonl', line: 7, offset: good.length, bytes: torn.length, quarantinedTo: quarantined });
    const warning = logs.find((l) => /torn last line/.test(l.msg));
    assert.ok(warning, 'a log line reports it');
    assert.equal(warning.level, 40);
    assert.match(await metrics.registry.metrics(), /^tollbooth_ledger_torn_tails_total 1$/m);

    const next = ledger.charge(usageRecord(5));
    await next.acked;
    await ledger.close();
    assert.equal(next.entry.seq, lastGood.seq + 1);
    assert.equal(next.entry.prev_hash, lastGood.hash);
    const after = cliVerify();
    assert.equal(after.code, 0, after.out);
    assert.match(after.out, /note: 1 torn tail\(s\) set aside/);
  });
});
