/**
 * Checkpoints: start-up from the last checkpoint builds exactly the state a full replay builds
 * (balances, allowance use per period, grants, shared-stream ids, unsettled charges) while reading
 * only the tail; a checkpoint torn by a crash falls back to the one before; `ledger verify` reports
 * a checkpoint that disagrees with the replay at its position; a ledger written before checkpoints
 * still opens, replays and verifies.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, test } from 'node:test';
import { runLedgerCommand } from '../../../src/cli/ledger.ts';
import { parseCredits, PICO_PER_CREDIT } from '../../../src/metering/credits.ts';
import { walkChain } from '../../../src/metering/ledger/chain.ts';
import { loadLedger, Replay } from '../../../src/metering/ledger/checkpoint.ts';
import { canonicalJson, GENESIS_HASH, sealEntry, type EntryBody } from '../../../src/metering/ledger/entry.ts';
import { Ledger } from '../../../src/metering/ledger/ledger.ts';
import { usageRecord } from './records.ts';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'tollbooth-checkpoint-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const allowances = { acme: { pico: 3n * PICO_PER_CREDIT, period: 'daily' as const }, globex: { pico: PICO_PER_CREDIT, period: 'monthly' as const } };
const allowanceOf = (org: string) => allowances[org as keyof typeof allowances] ?? null;

/** Two orgs over several days: allowance and wallet, grants, collected (stream) and unsettled entries. */
async function writeHistory(options: { checkpointEvery: number; maxFileBytes?: number }, n = 60): Promise<void> {
  const ledger = await Ledger.open({ dir, format: 1, allowanceOf, ...options });
  ledger.grant({ org: 'acme', pico: 50n * PICO_PER_CREDIT, kind: 'grant', grantId: 'welcome', source: 'config', by: null, note: 'launch' });
  for (let i = 0; i < n; i++) {
    const org = i % 3 === 0 ? 'globex' : 'acme';
    const ts = new Date(Date.UTC(2026, 4, 10 + Math.floor(i / 10), 12, 0, i % 60)).toISOString();
    const record = usageRecord(i, { org, ts, credits: `0.${String(100001 + i * 7919).slice(0, 6)}` });
    if (i % 11 === 5) ledger.charge(record, parseCredits(record.credits), { period: null, fromAllowance: 0n, fromWallet: parseCredits(record.credits) }, { instance: 'pod-a', settle_id: `h-${i}`, unsettled: true });
    else if (i % 7 === 3) ledger.charge(record, parseCredits(record.credits), undefined, { instance: 'pod-b', settle_id: `h-${i}`, stream_id: `1700000000000-${i}` });
    else ledger.record(record);
    if (i % 17 === 8) ledger.grant({ org, pico: PICO_PER_CREDIT * BigInt(i), kind: 'top_up', grantId: `top-${i}`, source: 'admin', by: 'owner', note: `#${i}` });
    if (i % 10 === 9) await ledger.flush();
  }
  await ledger.close();
}

function fullReplay(): { replay: Replay; entries: number } {
  const replay = new Replay();
  const walk = walkChain(dir, (entry) => replay.apply(entry));
  assert.deepEqual(walk.problems, []);
  return { replay, entries: walk.entries };
}

function ledgerFiles(): string[] {
  return readdirSync(dir).filter((f) => f.endsWith('.jsonl')).sort();
}

function allLines(): string[] {
  return ledgerFiles().flatMap((f) => readFileSync(join(dir, f), 'utf8').split('\n').filter(Boolean));
}

/** Rewrites the ledger (one file) with `edit` applied to the entry bodies, re-chaining every hash. */
function rewrite(edit: (bodies: Record<string, unknown>[]) => Record<string, unknown>[]): void {
  const bodies = allLines().map((l) => {
    const { seq, prev_hash, hash, ...body } = JSON.parse(l);
    return body as Record<string, unknown>;
  });
  let prev = GENESIS_HASH;
  // Checkpoints embed the unsettled charges whole: re-chained, they embed the new hashes.
  const unsettled: unknown[] = [];
  const text = edit(bodies)
    .map((body, i) => {
      const rechained = body.type === 'checkpoint' ? { ...body, checkpoint: { ...(body.checkpoint as object), unsettled: [...unsettled] } } : body;
      const { entry, line } = sealEntry(rechained as unknown as EntryBody, i + 1, prev);
      if (entry.type === 'charge' && entry.unsettled) unsettled.push(entry);
      prev = entry.hash;
      return line;
    })
    .join('');
  for (const f of ledgerFiles()) rmSync(join(dir, f));
  writeFileSync(join(dir, 'ledger-000001.jsonl'), text);
}

async function verify(): Promise<{ code: number; out: string }> {
  let out = '';
  const code = await runLedgerCommand(['verify', '--dir', dir], '/nonexistent.yaml', { out: (s) => (out += s), err: (s) => (out += s) });
  return { code, out };
}

/** Everything a Ledger holds after open, against what a full replay builds. */
async function assertOpensAsFullReplay(): Promise<void> {
  const { replay } = fullReplay();
  const ledger = await Ledger.open({ dir, format: 1, allowanceOf });
  try {
    const now = new Date('2026-05-14T13:00:00Z');
    for (const org of ['acme', 'globex']) {
      assert.deepEqual(ledger.balance(org, now), replay.accounts.balance(org, allowanceOf(org), now), `${org}: balance`);
      assert.deepEqual(ledger.accounts.snapshot(org), replay.accounts.snapshot(org), `${org}: totals, allowance per period, grant ids`);
    }
    assert.deepEqual(ledger.unsettled, replay.unsettled, 'the unsettled charges');
    assert.deepEqual(ledger.lastStreamIds, replay.streamIds, 'the last stream id per org');
    const repeat = await ledger.grant({ org: 'acme', pico: 1n, kind: 'grant', grantId: 'welcome', source: 'config', by: null, note: '' });
    assert.equal(repeat.created, false, 'a grant id already recorded stays recorded');
    assert.equal(repeat.entry.credits, '50', 'a repeat answers with the entry as recorded, read back from the file');
  } finally {
    await ledger.close();
  }
}

describe('ledger checkpoints', () => {
  test('start-up from the last checkpoint gives the same state as a full replay, reading only the tail', async () => {
    await writeHistory({ checkpointEvery: 7, maxFileBytes: 6000 });
    assert.ok(ledgerFiles().length > 2, 'several files');
    const { replay, entries } = fullReplay();
    const loaded = loadLedger(dir);
    assert.ok(loaded.checkpoint, 'a checkpoint was found');
    assert.ok(loaded.walk.entries <= 8, `only the tail is replayed (${loaded.walk.entries} of ${entries} entries)`);
    assert.equal(canonicalJson(loaded.replay.state()), canonicalJson(replay.state()));
    assert.ok(replay.unsettled.length > 0 && replay.streamIds.size > 0 && replay.accounts.snapshot('acme').grantIds.size > 2, 'the history has every kind of state');
    // Every checkpoint in the chain equals the replay up to it.
    const checkpoints = allLines().filter((l) => l.startsWith('{"checkpoint":')).length;
    assert.ok(checkpoints >= 5, `${checkpoints} checkpoints`);
    const { code, out } = await verify();
    assert.equal(code, 0, out);
    assert.match(out, new RegExp(`chain intact, ${checkpoints} checkpoint\\(s\\) equal to the replay`));
    await assertOpensAsFullReplay();
  });

  test('a checkpoint torn by a crash mid-write: the previous one is used, the torn bytes quarantined', async () => {
    await writeHistory({ checkpointEvery: 7 });
    const file = join(dir, ledgerFiles().at(-1)!);
    const text = readFileSync(file, 'utf8');
    const lines = text.split('\n').filter(Boolean);
    const last = lines.at(-1)!;
    assert.ok(last.startsWith('{"checkpoint":'), 'a clean close ends with a checkpoint');
    // The process was killed while writing that checkpoint: half of it, no newline.
    writeFileSync(file, text.slice(0, text.length - last.length - 1) + last.slice(0, Math.floor(last.length / 2)));
    const previous = JSON.parse(lines.filter((l) => l.startsWith('{"checkpoint":')).at(-2)!);
    const loaded = loadLedger(dir);
    assert.equal(loaded.checkpoint?.seq, previous.seq, 'the checkpoint before the torn one');
    assert.ok(loaded.walk.torn, 'the torn line is reported');
    await assertOpensAsFullReplay();
    assert.ok(readdirSync(join(dir, 'quarantine')).length === 1, 'the torn checkpoint is set aside');
    assert.equal((await verify()).code, 0);
  });

  test('`ledger verify` reports a checkpoint that disagrees with the replay, at its position', async () => {
    await writeHistory({ checkpointEvery: 20 });
    // The last checkpoint (later ones would embed grant entries whose hashes the re-chaining changed).
    let forged = 0;
    rewrite((bodies) =>
      bodies.map((b, i) => {
        if (b.type !== 'checkpoint' || i !== bodies.length - 1) return b;
        forged = i + 1;
        const state = structuredClone(b.checkpoint) as { orgs: Record<string, { wallet: string }> };
        state.orgs.acme!.wallet = '1000000';
        return { ...b, checkpoint: state };
      }),
    );
    const { code, out } = await verify();
    assert.equal(code, 1, out);
    assert.match(out, new RegExp(`^ledger-000001\\.jsonl:${forged}: checkpoint seq ${forged} does not equal the replay of the entries before it: orgs\\.acme\\.wallet: "[0-9.]+" in the replay, "1000000" in the checkpoint$`, 'm'));
    assert.match(out, /FAILED: 1 problem/);
  });

  test('a ledger written before checkpoints opens by a full replay, verifies, and gets a checkpoint', async () => {
    await writeHistory({ checkpointEvery: 0 });
    rewrite((bodies) => bodies.filter((b) => b.type !== 'checkpoint'));
    assert.equal(allLines().filter((l) => l.startsWith('{"checkpoint":')).length, 0, 'no checkpoint: the old format');
    assert.equal(loadLedger(dir).checkpoint, null);
    assert.equal((await verify()).code, 0);
    await assertOpensAsFullReplay();
    assert.ok(loadLedger(dir).checkpoint, 'the next start begins from a checkpoint');
    assert.equal((await verify()).code, 0);
  });

  test('checkpoints hold grant ids, not grant entries; a checkpoint written with whole grant entries still opens and verifies', async () => {
    await writeHistory({ checkpointEvery: 9 });
    const checkpointLines = allLines().filter((l) => l.startsWith('{"checkpoint":'));
    assert.ok(checkpointLines.length > 3);
    for (const line of checkpointLines) {
      for (const org of Object.values(JSON.parse(line).checkpoint.orgs) as Record<string, unknown>[]) {
        assert.ok(Array.isArray(org.grant_ids) && !('grants' in org), 'ids only');
      }
    }
    // The form before: every org's grant entries, whole.
    rewrite((bodies) =>
      bodies.map((b) => {
        if (b.type !== 'checkpoint') return b;
        const state = structuredClone(b.checkpoint) as { orgs: Record<string, Record<string, unknown>> };
        for (const [org, o] of Object.entries(state.orgs)) {
          const ids = o.grant_ids as string[];
          delete o.grant_ids;
          o.grants = ids.map((id) => bodies.find((g) => g.type === 'grant' && g.org === org && g.grant_id === id));
        }
        return { ...b, checkpoint: state };
      }),
    );
    assert.ok(allLines().some((l) => l.startsWith('{"checkpoint":') && l.includes('"grants":[{')), 'old-form checkpoints');
    const { code, out } = await verify();
    assert.equal(code, 0, out);
    assert.ok(loadLedger(dir).checkpoint, 'start-up begins from an old-form checkpoint');
    await assertOpensAsFullReplay();
    assert.equal((await verify()).code, 0, 'and the new-form checkpoint written at close verifies after the old ones');
  });

  test('a retried top-up after a restart answers with the recorded entry, read from the file', async () => {
    await writeHistory({ checkpointEvery: 9 });
    const ledger = await Ledger.open({ dir, format: 1, allowanceOf });
    try {
      const repeat = await ledger.grant({ org: 'acme', pico: PICO_PER_CREDIT, kind: 'top_up', grantId: 'top-25', source: 'admin', by: 'owner', note: '' });
      assert.equal(repeat.created, false);
      assert.deepEqual([repeat.entry.credits, repeat.entry.note, repeat.entry.seq > 0], ['25', '#25', true]);
      const fresh = await ledger.grant({ org: 'acme', pico: PICO_PER_CREDIT, kind: 'top_up', grantId: 'top-new', source: 'admin', by: 'owner', note: '' });
      assert.equal(fresh.created, true);
      const again = await ledger.grant({ org: 'acme', pico: PICO_PER_CREDIT, kind: 'top_up', grantId: 'top-new', source: 'admin', by: 'owner', note: '' });
      assert.deepEqual(again.entry, fresh.entry, 'a repeat of a grant this process made, before it is even written');
    } finally {
      await ledger.close();
    }
  });

  test('checkpoints come every N entries, off the append itself', async () => {
    const ledger = await Ledger.open({ dir, format: 1, checkpointEvery: 5 });
    for (let i = 0; i < 12; i++) {
      const { entry } = ledger.charge(usageRecord(i));
      assert.equal(entry.type, 'charge');
      await new Promise((resolve) => setImmediate(resolve));
    }
    await ledger.flush();
    const types = allLines().map((l) => JSON.parse(l).type);
    assert.deepEqual(types.slice(0, 7), ['charge', 'charge', 'charge', 'charge', 'charge', 'checkpoint', 'charge']);
    assert.equal(types.filter((t) => t === 'checkpoint').length, 2);
    await ledger.close();
  });
});
