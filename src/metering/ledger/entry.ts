/**
 * Ledger entries and their line format.
 *
 * One entry per line (JSON Lines, UTF-8, `\n`-terminated). A line is the entry's canonical JSON
 * without `hash` (keys sorted by UTF-16 code unit, no whitespace, JSON.stringify's number and
 * string forms: RFC 8785 for the value types entries hold), with `"hash":"<sha256 hex>"` appended
 * as the last member. `hash` = sha256 over exactly those canonical bytes, so a verifier needs
 * no JSON library to check it: strip the `,"hash":"…"` suffix, close the brace, hash.
 * `seq` counts from 1 with no gap across files; `prev_hash` is the previous entry's `hash`
 * (64 zeros for the first entry ever).
 */
import { hash } from 'node:crypto';
import type { UsageRecord } from '../record.ts';

export const GENESIS_HASH = '0'.repeat(64);

interface Chained {
  seq: number;
  prev_hash: string;
  hash: string;
}

/** One metered exchange (every UsageRecord field) and how its credits were paid. */
export interface ChargeEntry extends Chained, UsageRecord {
  type: 'charge';
  /** The allowance period the charge fell in ("2026-05" monthly, "2026-05-14" daily); null without allowance. */
  period: string | null;
  /** Exact decimal credits paid from the period allowance and from the wallet; they sum to `credits`. */
  from_allowance: string;
  from_wallet: string;
  /** With shared state: the replica that booked it (local and consolidated entries). */
  instance?: string;
  /** With shared state: the hold id its settle was made idempotent by. */
  settle_id?: string;
  /** In the consolidated ledger: the id of the org stream's entry it was collected from. */
  stream_id?: string;
  /** A local entry written while the shared store was unreachable: settled again at the next start. */
  unsettled?: true;
  /** The provider reported more than the request's hold: booked as debt, flagged for review. */
  over_hold?: true;
}

/** Credits added to an org's wallet, by config or by the admin API. */
export interface GrantEntry extends Chained {
  type: 'grant';
  ts: string;
  org: string;
  kind: 'grant' | 'top_up';
  /** Unique per org: a config grant or an admin request with the same id is applied once. */
  grant_id: string;
  credits: string;
  source: 'config' | 'admin';
  /** The admin key that made it (null for config grants). */
  by: string | null;
  note: string;
  instance?: string;
  stream_id?: string;
}

/** One org's balances as a replay builds them, in exact decimal credits. */
export interface OrgState {
  granted: string;
  wallet: string;
  charged: string;
  /** Period key → allowance spent in it. */
  allowance_used: Record<string, string>;
  /** The grant ids applied to the org, sorted (a repeated id is not applied again). */
  grant_ids: string[];
}

/**
 * An org's state in a checkpoint written before checkpoints held grant ids only: the grant entries
 * whole (read as their ids). Bodies are read from the chain itself when needed (grants.ts).
 */
export interface OrgStateWithGrants extends Omit<OrgState, 'grant_ids'> {
  grants: GrantEntry[];
}

/** What a replay of every entry before a checkpoint builds; replay resumes from it. */
export interface CheckpointState {
  orgs: Record<string, OrgState | OrgStateWithGrants>;
  /** In a consolidated ledger: per org, the last shared-stream entry collected. */
  stream_ids: Record<string, string>;
  /** Charges written while the shared store was unreachable (settled again at start). */
  unsettled: ChargeEntry[];
}

/**
 * The replay of the chain up to this entry (not included), written every N entries or T seconds,
 * at rotation and at a clean shutdown: start-up replays only what follows the last one.
 */
export interface CheckpointEntry extends Chained {
  type: 'checkpoint';
  ts: string;
  checkpoint: CheckpointState;
}

/** A file set aside by `tollbooth ledger repair`. */
export interface SetAsideFile {
  /** Path relative to the ledger directory. */
  file: string;
  /** The ledger file and first line it was cut from. */
  from: string;
  from_line: number;
  lines: number;
  bytes: number;
  sha256: string;
}

/** `tollbooth ledger repair` set a damaged tail aside; the chain goes on from the last good entry. */
export interface RepairEntry extends Chained {
  type: 'repair';
  ts: string;
  /** The seq the chain expected where it broke, the problem found there, and what was set aside. */
  first_bad_seq: number;
  problem: string;
  set_aside: SetAsideFile[];
  /** Lines set aside in all. */
  count: number;
}

export type LedgerEntry = ChargeEntry | GrantEntry | CheckpointEntry | RepairEntry;

/** An entry as handed to the ledger: the chain fields are the ledger's to fill. */
export type EntryBody =
  | Omit<ChargeEntry, keyof Chained>
  | Omit<GrantEntry, keyof Chained>
  | Omit<CheckpointEntry, keyof Chained>
  | Omit<RepairEntry, keyof Chained>;

/** Every checkpoint line starts with this (its first member in sorted order): found without parsing. */
export const CHECKPOINT_LINE_PREFIX = '{"checkpoint":';

/** Canonical JSON: sorted keys, no whitespace. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const obj = value as Record<string, unknown>;
  const keys = sortedKeys(obj);
  // Entries are flat: JSON.stringify with the sorted key list as its replacer writes them
  // canonically, in the engine, without building a reordered copy.
  if (keys.every((k) => obj[k] === null || typeof obj[k] !== 'object')) return JSON.stringify(obj, keys);
  const members: string[] = [];
  for (const key of keys) {
    if (obj[key] !== undefined) members.push(`${JSON.stringify(key)}:${canonicalJson(obj[key])}`);
  }
  return `{${members.join(',')}}`;
}

/** Sorted key lists by shape (`type`, key count): sorting would otherwise dominate sealing an entry. */
const SORTED_KEYS = new Map<string, string[]>();

function sortedKeys(obj: Record<string, unknown>): string[] {
  const keys = Object.keys(obj);
  const shape = `${String(obj.type)}:${keys.length}`;
  const cached = SORTED_KEYS.get(shape);
  // Same count and every cached key present: the same key set.
  if (cached && cached.every((k) => k in obj)) return cached;
  keys.sort();
  if (SORTED_KEYS.size < 64) SORTED_KEYS.set(shape, keys);
  return keys;
}

export function sha256Hex(text: string): string {
  return hash('sha256', text, 'hex');
}

const HASH_MEMBER = ',"hash":"';

/** Chains `body` after (`seq - 1`, `prevHash`): the entry and its line (with the trailing newline). */
export function sealEntry(body: EntryBody, seq: number, prevHash: string): { entry: LedgerEntry; line: string } {
  const flat = body.type === 'charge' && hasOnlyFlatMembers(body);
  const entry = flat ? sortedCharge(body, seq, prevHash) : ({ ...body, seq, prev_hash: prevHash } as LedgerEntry);
  // A sorted flat entry is its own canonical form: the engine's JSON.stringify, on its fast path.
  const canonical = flat ? JSON.stringify(entry) : canonicalJson(entry);
  entry.hash = sha256Hex(canonical);
  return { entry, line: `${canonical.slice(0, -1)}${HASH_MEMBER}${entry.hash}"}\n` };
}

/**
 * The members sortedCharge writes; a charge with any other takes the general path. `bill` is an
 * object: it rides the fast path only when it is canonical itself (pricing/bill.ts builds it so).
 */
const FLAT_CHARGE_MEMBERS = new Set([
  'api', 'attempts', 'bill', 'billing', 'cached_tokens', 'completion_tokens', 'credential', 'credits', 'duration_ms', 'from_allowance', 'from_wallet',
  'instance', 'key_id', 'model', 'operation', 'org', 'outcome', 'over_hold', 'period', 'prompt_tokens', 'provider', 'reasoning_tokens',
  'request_id', 'requested_model', 'settle_id', 'status', 'stream', 'stream_id', 'ts', 'ttfb_ms', 'type', 'unpriced', 'unsettled',
  'upstream_model', 'usage_source',
]);

function hasOnlyFlatMembers(body: object): boolean {
  for (const key in body) if (!FLAT_CHARGE_MEMBERS.has(key) && (body as Record<string, unknown>)[key] !== undefined) return false;
  const bill = (body as { bill?: unknown }).bill;
  return bill === undefined || isCanonical(bill);
}

/**
 * Whether JSON.stringify writes `value` canonically: every object's keys already in sorted order
 * (arrays are not expected in entries: they take the general path). A few keys per level: far
 * cheaper than rebuilding it with canonicalJson.
 */
export function isCanonical(value: unknown): boolean {
  if (value === null || typeof value !== 'object') return true;
  if (Array.isArray(value)) return false;
  let previous: string | null = null;
  for (const key in value) {
    if (previous !== null && !(previous < key)) return false;
    if (!isCanonical((value as Record<string, unknown>)[key])) return false;
    previous = key;
  }
  return true;
}

/**
 * A charge entry with its members written in canonical order (sorted by UTF-16 code unit), once
 * per metered request; `hash` is filled in after. A test checks this order against canonicalJson.
 */
function sortedCharge(b: Omit<ChargeEntry, keyof Chained>, seq: number, prevHash: string): ChargeEntry {
  const sorted: Omit<ChargeEntry, 'hash'> = {
    api: b.api,
    attempts: b.attempts,
    bill: b.bill,
    billing: b.billing,
    cached_tokens: b.cached_tokens,
    completion_tokens: b.completion_tokens,
    credential: b.credential,
    credits: b.credits,
    duration_ms: b.duration_ms,
    from_allowance: b.from_allowance,
    from_wallet: b.from_wallet,
    instance: b.instance,
    key_id: b.key_id,
    model: b.model,
    operation: b.operation,
    org: b.org,
    outcome: b.outcome,
    over_hold: b.over_hold,
    period: b.period,
    prev_hash: prevHash,
    prompt_tokens: b.prompt_tokens,
    provider: b.provider,
    reasoning_tokens: b.reasoning_tokens,
    request_id: b.request_id,
    requested_model: b.requested_model,
    seq,
    settle_id: b.settle_id,
    status: b.status,
    stream: b.stream,
    stream_id: b.stream_id,
    ts: b.ts,
    ttfb_ms: b.ttfb_ms,
    type: b.type,
    unpriced: b.unpriced,
    unsettled: b.unsettled,
    upstream_model: b.upstream_model,
    usage_source: b.usage_source,
  };
  return sorted as ChargeEntry;
}

/** `,"hash":"` + 64 hex digits + `"}`. */
const SUFFIX_LENGTH = HASH_MEMBER.length + 64 + 2;

export type LineCheck = { ok: true; entry: LedgerEntry } | { ok: false; why: string; entry: LedgerEntry | null };

/**
 * Checks one line (without its newline) on its own: shape and hash, over the line's exact bytes.
 * The chain (seq, prev_hash) is the caller's.
 */
export function checkLine(line: string): LineCheck {
  let entry: LedgerEntry;
  try {
    entry = JSON.parse(line) as LedgerEntry;
  } catch {
    return { ok: false, why: 'not valid JSON', entry: null };
  }
  if (typeof entry !== 'object' || entry === null || !Number.isSafeInteger(entry.seq) || typeof entry.prev_hash !== 'string') {
    return { ok: false, why: 'not a ledger entry (no seq/prev_hash)', entry: null };
  }
  const at = line.length - SUFFIX_LENGTH;
  const hash = line.slice(at + HASH_MEMBER.length, -2);
  if (at < 1 || !line.startsWith(HASH_MEMBER, at) || !line.endsWith('"}') || !/^[0-9a-f]{64}$/.test(hash)) {
    return { ok: false, why: 'no trailing "hash" member', entry };
  }
  if (sha256Hex(`${line.slice(0, at)}}`) !== hash) return { ok: false, why: 'hash does not match the entry: the line was edited', entry };
  return { ok: true, entry };
}
