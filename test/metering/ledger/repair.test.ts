/**
 * `tollbooth ledger repair` (the real CLI, in a child process): a chain damaged in the middle no
 * longer leaves the gateway refusing forever. The damaged tail is set aside byte for byte, readable,
 * with its hashes recorded in a `repair` entry that continues the chain; verify passes again,
 * the ledger opens, balances are the replay of what stayed, and appending goes on.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, test } from 'node:test';
import { parseCredits } from '../../../src/metering/credits.ts';
import { Ledger } from '../../../src/metering/ledger/ledger.ts';
import { usageRecord } from './records.ts';

const NODE = new URL('../../../node_modules/.bin/node', import.meta.url).pathname;
const CLI = new URL('../../../src/cli.ts', import.meta.url).pathname;

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'tollbooth-repair-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function cli(...args: string[]): { code: number | null; out: string } {
  const run = spawnSync(NODE, [CLI, 'ledger', ...args, '--dir', dir], { encoding: 'utf8' });
  return { code: run.status, out: run.stdout + run.stderr };
}

function files(): string[] {
  return readdirSync(dir).filter((f) => f.endsWith('.jsonl')).sort();
}

function lines(file: string): string[] {
  return readFileSync(join(dir, file), 'utf8').split('\n').filter(Boolean);
}

async function write(n: number, maxFileBytes: number): Promise<void> {
  const ledger = await Ledger.open({ dir, format: 1, maxFileBytes, checkpointEvery: 0 });
  for (let i = 0; i < n; i++) ledger.record(usageRecord(i));
  await ledger.close();
}

describe('ledger repair', () => {
  test('an entry deleted after the last checkpoint: the gateway refuses naming the repair; repair sets the tail aside and continues the chain', async () => {
    await write(8, 1 << 20);
    const file = join(dir, files()[0]!);
    // Without the closing checkpoint (a crash), then line 4 deleted: the start checks lines 1-7.
    const kept = lines(files()[0]!).filter((l) => !l.startsWith('{"checkpoint":'));
    const damaged = kept.filter((_, i) => i !== 3);
    writeFileSync(file, damaged.map((l) => `${l}\n`).join(''));

    await assert.rejects(Ledger.open({ dir, format: 1 }), (err: Error) => {
      assert.match(err.message, /ledger-000001\.jsonl:4: entry seq 5 where seq 4 was expected/);
      assert.match(err.message, new RegExp(`\`tollbooth ledger repair --dir ${dir}\``));
      return true;
    });

    const repaired = cli('repair');
    assert.equal(repaired.code, 0, repaired.out);
    assert.match(repaired.out, /first problem: ledger-000001\.jsonl:4: entry seq 5 where seq 4 was expected/);
    assert.match(repaired.out, /repaired: 4 line\(s\) from seq 4 on set aside in /);

    // The set-aside tail: the damaged lines, byte for byte, readable beside the chain.
    const [asideName] = readdirSync(join(dir, 'set-aside'));
    const asideDir = join(dir, 'set-aside', asideName!);
    const tail = damaged.slice(3).map((l) => `${l}\n`).join('');
    assert.equal(readFileSync(join(asideDir, 'ledger-000001.jsonl.from-line-4'), 'utf8'), tail);
    assert.ok(readdirSync(asideDir).includes('REPAIR.json'));

    // The chain: three good charges, then the repair entry recording what was set aside.
    const chain = lines(files()[0]!).map((l) => JSON.parse(l));
    assert.deepEqual(chain.slice(0, 3).map((e) => e.request_id), ['req-0', 'req-1', 'req-2']);
    const repair = chain[3];
    assert.equal(repair.type, 'repair');
    assert.equal(repair.seq, 4);
    assert.equal(repair.prev_hash, chain[2].hash);
    assert.equal(repair.first_bad_seq, 4);
    assert.equal(repair.count, 4);
    assert.deepEqual(repair.set_aside, [
      {
        file: join('set-aside', asideName!, 'ledger-000001.jsonl.from-line-4'),
        from: 'ledger-000001.jsonl',
        from_line: 4,
        lines: 4,
        bytes: Buffer.byteLength(tail),
        sha256: createHash('sha256').update(tail).digest('hex'),
      },
    ]);

    const verified = cli('verify');
    assert.equal(verified.code, 0, verified.out);
    assert.match(verified.out, /note: 1 damaged tail\(s\) set aside by `ledger repair`/);

    const ledger = await Ledger.open({ dir, format: 1 });
    assert.equal(ledger.balance('acme').charged, 3n * parseCredits('1.000001'), 'balances are the replay of what stayed in the chain');
    await ledger.charge(usageRecord(100)).acked;
    await ledger.close();
    assert.equal(cli('verify').code, 0);
  });

  test('an edited line in the middle file: that file from the line on and every later file are set aside', async () => {
    await write(40, 6000);
    const names = files();
    assert.ok(names.length >= 3, names.join(', '));
    const middle = join(dir, names[1]!);
    const before = lines(names[1]!);
    writeFileSync(middle, before.map((l, i) => (i === 1 ? l.replace(/"credits":"[^"]+"/, '"credits":"0.5"') : l)).map((l) => `${l}\n`).join(''));
    const later = names.slice(2).map((n) => readFileSync(join(dir, n)));

    const verifyBefore = cli('verify');
    assert.equal(verifyBefore.code, 1);
    assert.match(verifyBefore.out, new RegExp(`^${names[1]!.replace('.', '\\.')}:2: hash does not match the entry`, 'm'));

    const repaired = cli('repair');
    assert.equal(repaired.code, 0, repaired.out);
    const [asideName] = readdirSync(join(dir, 'set-aside'));
    const aside = readdirSync(join(dir, 'set-aside', asideName!)).sort();
    assert.deepEqual(aside, ['REPAIR.json', `${names[1]}.from-line-2`, ...names.slice(2).map((n) => `${n}.from-line-1`)].sort());
    names.slice(2).forEach((n, i) => assert.deepEqual(readFileSync(join(dir, 'set-aside', asideName!, `${n}.from-line-1`)), later[i], `${n} kept as it was`));
    assert.deepEqual(files(), names.slice(0, 2), 'the later files left the chain');
    const chain = lines(names[1]!).map((l) => JSON.parse(l));
    assert.deepEqual(chain.map((e) => e.type), ['charge', 'repair', 'checkpoint'], 'the first good line, the repair entry, the checkpoint of the repair\'s close');
    assert.equal(chain[1].set_aside.length, names.length - 1);
    assert.equal(cli('verify').code, 0);
  });

  test('an intact chain: nothing to repair; a running ledger: repair refuses (directory lock)', async () => {
    await write(3, 1 << 20);
    const intact = cli('repair');
    assert.equal(intact.code, 0);
    assert.match(intact.out, /intact; nothing to repair/);
    const ledger = await Ledger.open({ dir, format: 1, instance: 'gateway-1' });
    try {
      const locked = cli('repair');
      assert.notEqual(locked.code, 0);
      assert.match(locked.out, /gateway-1/);
    } finally {
      await ledger.close();
    }
  });
});
