/**
 * Checkpoints: the replay of the chain, written into the chain.
 *
 * A `Replay` is what replaying entries builds: balances and allowance use per period (Accounts),
 * grant entries per (org, grant id), the last shared-stream id per org, and the charges still to be
 * settled with the shared store. Its `state()` is what a checkpoint entry records; `fromState`
 * resumes from one. Start-up (`loadLedger`) finds the newest complete checkpoint by a scan for
 * its line prefix (no parsing of the other lines), checks the chain from there to the end and
 * replays only that tail; with no checkpoint it replays everything. A checkpoint torn by a crash
 * is not a complete line, so the one before it is used. `ledger verify` replays everything and
 * checks that each checkpoint equals the replay up to it.
 */
import { closeSync, openSync, readSync } from 'node:fs';
import { formatCredits, parseCredits } from '../credits.ts';
import { Accounts, type Split } from './accounts.ts';
import { walkChain, type ChainWalk, type Position } from './chain.ts';
import { dirname } from 'node:path';
import { checkCompactLine, seqAndHash } from './compact.ts';
import { canonicalJson, checkLine, CHECKPOINT_LINE_PREFIX, GENESIS_HASH, type ChargeEntry, type CheckpointEntry, type CheckpointState, type LedgerEntry, type OrgState } from './entry.ts';
import { archivedBefore, listSegments, scanLines, type Segment } from './segments.ts';

export class Replay {
  readonly accounts: Accounts;
  /** Per org, the last shared-stream entry collected (a consolidated ledger). */
  readonly streamIds = new Map<string, string>();
  readonly unsettled: ChargeEntry[] = [];

  constructor(accounts = new Accounts()) {
    this.accounts = accounts;
  }

  apply(entry: LedgerEntry): void {
    if (entry.type === 'checkpoint' || entry.type === 'repair') return;
    this.accounts.apply(entry);
    if (entry.type === 'charge' && entry.unsettled) this.unsettled.push(entry);
    if (entry.stream_id !== undefined) this.streamIds.set(entry.org, entry.stream_id);
  }

  /** A charge just appended, its amounts already in pico-credits (no text to parse). */
  applyCharge(entry: ChargeEntry, pico: bigint, split: Split): void {
    this.accounts.applyCharge(entry.org, split.period, pico, split.fromAllowance, split.fromWallet);
    if (entry.unsettled) this.unsettled.push(entry);
    if (entry.stream_id !== undefined) this.streamIds.set(entry.org, entry.stream_id);
  }

  /** What a checkpoint records: enough to resume exactly where this replay is (grant ids, not grant bodies). */
  state(): CheckpointState {
    const orgs: Record<string, OrgState> = {};
    for (const org of this.accounts.orgs()) {
      const a = this.accounts.snapshot(org);
      const allowance: Record<string, string> = {};
      for (const [period, used] of a.allowanceUsed) allowance[period] = formatCredits(used);
      orgs[org] = {
        granted: formatCredits(a.granted),
        wallet: formatCredits(a.wallet),
        charged: formatCredits(a.charged),
        allowance_used: allowance,
        grant_ids: [...a.grantIds].sort(),
      };
    }
    return { orgs, stream_ids: Object.fromEntries(this.streamIds), unsettled: [...this.unsettled] };
  }

  static fromState(recorded: CheckpointState): Replay {
    const state = currentState(recorded);
    const replay = new Replay();
    for (const [org, o] of Object.entries(state.orgs)) {
      replay.accounts.restore(org, {
        granted: parseCredits(o.granted),
        wallet: parseCredits(o.wallet),
        charged: parseCredits(o.charged),
        allowanceUsed: new Map(Object.entries(o.allowance_used).map(([period, used]) => [period, parseCredits(used)])),
        grantIds: new Set(o.grant_ids),
      });
    }
    for (const [org, id] of Object.entries(state.stream_ids)) replay.streamIds.set(org, id);
    replay.unsettled.push(...state.unsettled);
    return replay;
  }
}

/** A checkpoint's state as this version writes it: one written with whole grant entries reads as their ids. */
export function currentState(recorded: CheckpointState): CheckpointState & { orgs: Record<string, OrgState> } {
  const orgs: Record<string, OrgState> = {};
  for (const [org, o] of Object.entries(recorded.orgs)) {
    if ('grant_ids' in o) orgs[org] = o;
    else {
      const { grants, ...rest } = o;
      orgs[org] = { ...rest, grant_ids: [...new Set(grants.map((g) => g.grant_id))].sort() };
    }
  }
  return { ...recorded, orgs };
}

export interface FoundCheckpoint {
  /** Index in the segment list. */
  segment: number;
  offset: number;
  line: number;
  entry: CheckpointEntry;
}

const PREFIX = Buffer.from(CHECKPOINT_LINE_PREFIX);

/** The newest complete checkpoint whose own hash holds, searched from the newest file back. */
export function findLastCheckpoint(segments: Segment[]): FoundCheckpoint | null {
  for (let i = segments.length - 1; i >= 0; i--) {
    const segment = segments[i]!;
    const candidates: { offset: number; line: number; length: number; before: { offset: number; length: number } | null }[] = [];
    let before: { offset: number; length: number } | null = null;
    scanLines(segment.path, (bytes, at) => {
      if (bytes.length > PREFIX.length && bytes.compare(PREFIX, 0, PREFIX.length, 0, PREFIX.length) === 0) candidates.push({ ...at, length: bytes.length, before });
      before = { offset: at.offset, length: bytes.length };
    });
    for (const c of candidates.reverse()) {
      const text = readBytes(segment.path, c.offset, c.length).toString('utf8');
      let checked;
      if (segment.format === 2) {
        // A compact line's hash covers the hash of the line before it.
        const prev = c.before ? seqAndHash(readBytes(segment.path, c.before.offset, c.before.length).toString('utf8')).hash : hashBefore(segments, i);
        checked = prev === null ? null : checkCompactLine(text, prev);
      } else checked = checkLine(text);
      if (checked?.ok && checked.entry.type === 'checkpoint') return { segment: i, offset: c.offset, line: c.line, entry: checked.entry };
    }
  }
  return null;
}

/** The hash the first entry of `segments[i]` links to: the previous file's last line, the archive's record, or genesis. */
export function hashBefore(segments: Segment[], i: number): string | null {
  const segment = segments[i]!;
  if (i > 0) {
    const last = lastLine(segments[i - 1]!.path);
    return last === null ? null : seqAndHash(last).hash;
  }
  if (segment.index === 1) return GENESIS_HASH;
  return archivedBefore(dirname(segment.path), segment.index)?.last_hash ?? null;
}

/** The last complete line of a file. */
function lastLine(path: string): string | null {
  let found: { offset: number; length: number } | null = null;
  scanLines(path, (bytes, at) => {
    found = { offset: at.offset, length: bytes.length };
  });
  const f = found as { offset: number; length: number } | null;
  return f === null ? null : readBytes(path, f.offset, f.length).toString('utf8');
}

export function readBytes(path: string, offset: number, length: number): Buffer {
  const fd = openSync(path, 'r');
  try {
    const buffer = Buffer.allocUnsafe(length);
    for (let got = 0; got < length; ) {
      const n = readSync(fd, buffer, got, length - got, offset + got);
      if (n === 0) throw new Error(`${path}: the file ended at ${offset + got}`);
      got += n;
    }
    return buffer;
  } finally {
    closeSync(fd);
  }
}

export interface LoadedLedger {
  replay: Replay;
  walk: ChainWalk;
  /** Where replay started, if from a checkpoint. */
  checkpoint: (Position & { seq: number }) | null;
}

/** The ledger's state from its last checkpoint and the entries after it (all of them without one). */
export function loadLedger(dir: string, segments: Segment[] = listSegments(dir)): LoadedLedger {
  const found = findLastCheckpoint(segments);
  const replay = found ? Replay.fromState(found.entry.checkpoint) : new Replay();
  const from = found ? { segment: found.segment, offset: found.offset, line: found.line, seq: found.entry.seq, prevHash: found.entry.prev_hash } : null;
  const walk = walkChain(dir, (entry) => replay.apply(entry), from, segments);
  const first = segments[0];
  if (!found && first !== undefined && first.index > 1) {
    // Older files were archived: their state is in a checkpoint, never replayed from the archive.
    walk.problems.unshift({ file: first.name, line: 1, message: 'the files before this one were archived, but no checkpoint after them is here to start from' });
  }
  const checkpoint = found ? { file: segments[found.segment]!.name, line: found.line, seq: found.entry.seq } : null;
  return { replay, walk, checkpoint };
}

/** The first place two states differ ("orgs.acme.wallet: 12.5 vs 13"), or null when equal. */
export function stateDifference(expected: unknown, recorded: unknown, path = ''): string | null {
  if (canonicalJson(expected) === canonicalJson(recorded)) return null;
  if (expected !== null && recorded !== null && typeof expected === 'object' && typeof recorded === 'object') {
    const a = expected as Record<string, unknown>;
    const b = recorded as Record<string, unknown>;
    for (const key of [...new Set([...Object.keys(a), ...Object.keys(b)])].sort()) {
      const at = path === '' ? key : `${path}.${key}`;
      if (!(key in a)) return `${at}: not in the replay, ${short(b[key])} in the checkpoint`;
      if (!(key in b)) return `${at}: ${short(a[key])} in the replay, missing from the checkpoint`;
      const d = stateDifference(a[key], b[key], at);
      if (d !== null) return d;
    }
  }
  return `${path}: ${short(expected)} in the replay, ${short(recorded)} in the checkpoint`;
}

function short(value: unknown): string {
  const text = canonicalJson(value);
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}
