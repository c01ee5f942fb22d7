/**
 * `tollbooth ledger verify` (the real CLI, in a child process) on a ledger of two files: exit 0
 * when intact; exit 1 naming the file and line of an edited, deleted or reordered entry.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Ledger } from '../../../src/metering/ledger/ledger.ts';
import { usageRecord } from './records.ts';

const NODE = new URL('../../../node_modules/.bin/node', import.meta.url).pathname;
const CLI = new URL('../../../src/cli.ts', import.meta.url).pathname;

let pristine: string;
let second: string;
before(async () => {
  pristine = mkdtempSync(join(tmpdir(), 'tollbooth-tamper-'));
  const ledger = await Ledger.open({ dir: pristine, format: 1, maxFileBytes: 8000 });
  for (let i = 0; i < 20; i++) ledger.record(usageRecord(i));
  await ledger.close();
  second = readdirSync(pristine).filter((f) => f.endsWith('.jsonl')).sort()[1]!;
  assert.ok(second, 'the ledger spans two files');
});
after(() => rmSync(pristine, { recursive: true, force: true }));

function verify(dir: string): { code: number | null; out: string } {
  const run = spawnSync(NODE, [CLI, 'ledger', 'verify', '--dir', dir], { encoding: 'utf8' });
  return { code: run.status, out: run.stdout + run.stderr };
}

/** A copy of the ledger with lines of the second file changed by `edit`. */
function tampered(edit: (lines: string[]) => string[]): string {
  const dir = mkdtempSync(join(tmpdir(), 'tollbooth-tamper-'));
  cpSync(pristine, dir, { recursive: true });
  const file = join(dir, second);
  const lines = readFileSync(file, 'utf8').split('\n').filter(Boolean);
  writeFileSync(file, edit(lines).map((l) => `${l}\n`).join(''));
  return dir;
}

describe('ledger verify', () => {
  test('an intact ledger verifies: exit 0', () => {
    const { code, out } = verify(pristine);
    assert.equal(code, 0, out);
    assert.match(out, /ok: 21 entries in 2 file\(s\), chain intact, 1 checkpoint\(s\) equal to the replay/);
  });

  test('an edited entry is reported at its file and line', () => {
    const dir = tampered((lines) => lines.map((l, i) => (i === 2 ? l.replace(/"credits":"[^"]+"/, '"credits":"0.5"') : l)));
    const { code, out } = verify(dir);
    rmSync(dir, { recursive: true, force: true });
    assert.equal(code, 1, out);
    assert.match(out, new RegExp(`^${second.replace('.', '\\.')}:3: hash does not match the entry`, 'm'));
    // The checkpoint written at close no longer equals the replay of the edited entries.
    assert.match(out, new RegExp(`^${second.replace('.', '\\.')}:\\d+: checkpoint seq 21 does not equal the replay of the entries before it: orgs\\.acme\\.charged`, 'm'));
    assert.match(out, /FAILED: 2 problem/);
  });

  test('a deleted entry is reported where the gap is', () => {
    const dir = tampered((lines) => lines.filter((_, i) => i !== 1));
    const { code, out } = verify(dir);
    rmSync(dir, { recursive: true, force: true });
    assert.equal(code, 1, out);
    assert.match(out, new RegExp(`^${second.replace('.', '\\.')}:2: entry seq \\d+ where seq \\d+ was expected: 1 entry is missing`, 'm'));
  });

  test('reordered entries are reported at their lines', () => {
    const dir = tampered((lines) => [lines[0]!, lines[2]!, lines[1]!, ...lines.slice(3)]);
    const { code, out } = verify(dir);
    rmSync(dir, { recursive: true, force: true });
    assert.equal(code, 1, out);
    assert.match(out, new RegExp(`^${second.replace('.', '\\.')}:2: entry seq \\d+ where seq \\d+ was expected`, 'm'));
    assert.match(out, new RegExp(`^${second.replace('.', '\\.')}:3: entry seq \\d+ where seq \\d+ was expected: the entry is out of order`, 'm'));
  });

  test('a whole file removed from the middle breaks the chain at the next file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tollbooth-tamper-'));
    const ledger = await Ledger.open({ dir, format: 1, maxFileBytes: 2500 });
    for (let i = 0; i < 12; i++) ledger.record(usageRecord(i));
    await ledger.close();
    const names = readdirSync(dir).filter((f) => f.endsWith('.jsonl')).sort();
    assert.ok(names.length >= 3);
    rmSync(join(dir, names[1]!));
    const { code, out } = verify(dir);
    rmSync(dir, { recursive: true, force: true });
    assert.equal(code, 1, out);
    assert.match(out, new RegExp(`^${names[2]!.replace('.', '\\.')}:1: entry seq \\d+ where seq \\d+ was expected`, 'm'));
  });
});
