/**
 * The compact line format (format 2, files `ledger-NNNNNN.v2.jsonl`): the same entries in about a
 * third of the bytes, nothing a bill or an audit needs left out.
 *
 * - A charge's members have short stable keys (table below) and values equal to their default are
 *   left out: `api` unified, `operation` chat, `stream` false, `billing` managed, `status` 200,
 *   `outcome` ok, zero token counts, `usage_source` reported, `unpriced` false, `attempts` 1,
 *   `requested_model`/`upstream_model` equal to `model`, `credential` equal to `provider`,
 *   `from_wallet` equal to `credits` − `from_allowance` when one of the two is 0, null `key_id`,
 *   `model`, `ttfb_ms` and `period`. `ts` is epoch milliseconds when that gives back the same
 *   ISO text. The charge's `bill` is `bl`, in its own compact form (compact-bill.ts). A charge with
 *   a member the table does not know is written whole instead (then it carries `type`), so a new
 *   member is never lost, only not compacted.
 * - Lines are self-contained: no dictionary per file. Start-up begins mid-file at a checkpoint and
 *   archived files are read alone, so interning ids per file would tie every line to its file's
 *   header; what repeats across lines (instance, model names) costs bytes only in the open file,
 *   and gzip takes it out of archived ones.
 * - Other entries (grants, checkpoints, repairs) keep their members.
 * - `seq` is `q`; `prev_hash` is not written: `h` = base64url(sha256(prev hash + "\n" + the line's
 *   canonical JSON without `h`)), so every line still commits to the whole chain before it, and a
 *   reader fills `prev_hash` in from the line before.
 * Lines stay canonical JSON (keys sorted), `h` last.
 */
import { hash } from 'node:crypto';
import { decodeBill, encodeBill } from './compact-bill.ts';
import { canonicalJson, isCanonical, type ChargeEntry, type EntryBody, type LedgerEntry, type LineCheck } from './entry.ts';

export type LineFormat = 1 | 2;

const H_MEMBER = ',"h":"';
/** `,"h":"` + 43 base64url characters + `"}`. */
const H_SUFFIX_LENGTH = H_MEMBER.length + 43 + 2;

/** Record members the compact charge knows; any other one sends the charge out whole. */
const KNOWN = new Set([
  'bill', 'type', 'ts', 'request_id', 'org', 'key_id', 'api', 'operation', 'stream', 'requested_model', 'model', 'provider', 'upstream_model',
  'credential', 'billing', 'status', 'outcome', 'prompt_tokens', 'completion_tokens', 'cached_tokens', 'reasoning_tokens', 'usage_source',
  'credits', 'unpriced', 'attempts', 'duration_ms', 'ttfb_ms', 'period', 'from_allowance', 'from_wallet', 'instance', 'settle_id',
  'stream_id', 'unsettled', 'over_hold',
]);

function chainHash(prevHash: string, canonical: string): string {
  return hash('sha256', `${prevHash}\n${canonical}`, 'base64url');
}

/** A compact charge's canonical JSON (without `h`), or null when the charge has a member no table knows. */
function compactChargeJson(b: Omit<ChargeEntry, 'seq' | 'prev_hash' | 'hash'>, seq: number): string | null {
  const members = b as unknown as Record<string, unknown>;
  for (const key in b) if (!KNOWN.has(key) && members[key] !== undefined) return null;
  const c = compactCharge(b, seq);
  if (b.bill !== undefined) {
    if (b.bill === null || typeof b.bill !== 'object' || Array.isArray(b.bill)) return null;
    // Its compact form (compact-bill.ts), else the bill as it is.
    c.bl = encodeBill(b.bill, b) ?? b.bill;
  }
  // Members inserted in sorted order are canonical as JSON.stringify writes them (the fast path):
  // compactCharge leaves `bl` its place in that order; a bill not built canonical is sorted here.
  return c.bl === undefined || isCanonical(c.bl) ? JSON.stringify(c) : canonicalJson(c);
}

/** The compact flat members of a charge, inserted in sorted key order. */
function compactCharge(b: Omit<ChargeEntry, 'seq' | 'prev_hash' | 'hash'>, seq: number): Record<string, unknown> {
  const c: Record<string, unknown> = {};
  if (b.api !== 'unified') c.a = b.api;
  if (b.attempts !== 1) c.at = b.attempts;
  if (b.billing !== 'managed') c.b = b.billing;
  // `bl` (the bill) comes here in sorted order: compactChargeJson sets it.
  c.bl = undefined;
  if (b.credits !== '0') c.c = b.credits;
  if (b.cached_tokens !== 0) c.ca = b.cached_tokens;
  if (b.credential !== b.provider) c.cr = b.credential;
  if (b.completion_tokens !== 0) c.ct = b.completion_tokens;
  c.d = b.duration_ms;
  if (b.from_allowance !== '0') c.fa = b.from_allowance;
  const derived = (b.from_allowance === '0' && b.from_wallet === b.credits) || (b.from_wallet === '0' && b.from_allowance === b.credits);
  if (!derived) c.fw = b.from_wallet;
  if (b.instance !== undefined) c.in = b.instance;
  if (b.key_id !== null) c.k = b.key_id;
  if (b.model !== null) c.m = b.model;
  if (b.unsettled) c.ns = 1;
  c.o = b.org;
  if (b.outcome !== 'ok') c.oc = b.outcome;
  if (b.over_hold) c.oh = 1;
  if (b.operation !== 'chat') c.op = b.operation;
  c.p = b.provider;
  if (b.period !== null) c.pe = b.period;
  if (b.prompt_tokens !== 0) c.pt = b.prompt_tokens;
  c.q = seq;
  c.r = b.request_id;
  if (b.requested_model !== b.model) c.rm = b.requested_model;
  if (b.reasoning_tokens !== 0) c.rt = b.reasoning_tokens;
  if (b.stream) c.s = 1;
  if (b.stream_id !== undefined) c.sd = b.stream_id;
  if (b.settle_id !== undefined) c.si = b.settle_id;
  if (b.status !== 200) c.st = b.status;
  const ms = Date.parse(b.ts);
  c.t = b.ts.length === 24 && new Date(ms).toISOString() === b.ts ? ms : b.ts;
  if (b.ttfb_ms !== null) c.tf = b.ttfb_ms;
  if (b.upstream_model !== b.model) c.um = b.upstream_model;
  if (b.unpriced) c.un = 1;
  if (b.usage_source !== 'reported') c.us = b.usage_source;
  return c;
}

/** A compact charge back in full (the record's members, its split, its chain fields). */
function fullCharge(c: Record<string, any>, prevHash: string, h: string): ChargeEntry {
  const model = (c.m ?? null) as string | null;
  const credits = (c.c ?? '0') as string;
  const fromAllowance = (c.fa ?? '0') as string;
  const entry: ChargeEntry = {
    api: c.a ?? 'unified',
    attempts: c.at ?? 1,
    billing: c.b ?? 'managed',
    cached_tokens: c.ca ?? 0,
    completion_tokens: c.ct ?? 0,
    credential: c.cr ?? c.p,
    credits,
    duration_ms: c.d,
    from_allowance: fromAllowance,
    from_wallet: c.fw ?? (fromAllowance === '0' ? credits : '0'),
    instance: c.in,
    key_id: c.k ?? null,
    model,
    operation: c.op ?? 'chat',
    org: c.o,
    outcome: c.oc ?? 'ok',
    over_hold: c.oh === 1 ? true : undefined,
    period: c.pe ?? null,
    prev_hash: prevHash,
    prompt_tokens: c.pt ?? 0,
    provider: c.p,
    reasoning_tokens: c.rt ?? 0,
    request_id: c.r,
    requested_model: 'rm' in c ? c.rm : model,
    seq: c.q,
    settle_id: c.si,
    status: c.st ?? 200,
    stream: c.s === 1,
    stream_id: c.sd,
    ts: typeof c.t === 'number' ? new Date(c.t).toISOString() : c.t,
    ttfb_ms: c.tf ?? null,
    type: 'charge',
    unpriced: c.un === 1,
    unsettled: c.ns === 1 ? true : undefined,
    upstream_model: c.um ?? model,
    usage_source: c.us ?? 'reported',
    hash: h,
  };
  for (const key of ['instance', 'over_hold', 'settle_id', 'stream_id', 'unsettled'] as const) if (entry[key] === undefined) delete entry[key];
  if (c.bl !== undefined) entry.bill = decodeBill(c.bl, entry);
  return entry;
}

/** Chains `body` after `prevHash` in the compact format: the entry (in full) and its line. */
export function sealCompact(body: EntryBody, seq: number, prevHash: string): { entry: LedgerEntry; line: string } {
  const compact = body.type === 'charge' ? compactChargeJson(body, seq) : null;
  const canonical = compact ?? canonicalJson({ ...body, q: seq });
  const h = chainHash(prevHash, canonical);
  const entry = { ...body, seq, prev_hash: prevHash, hash: h } as LedgerEntry;
  return { entry, line: `${canonical.slice(0, -1)}${H_MEMBER}${h}"}\n` };
}

/**
 * Checks one compact line after `prevHash` (null when the line before could not be read: then
 * only its shape is checked) and gives the entry in full.
 */
export function checkCompactLine(line: string, prevHash: string | null): LineCheck {
  let raw: Record<string, any>;
  try {
    raw = JSON.parse(line) as Record<string, any>;
  } catch {
    return { ok: false, why: 'not valid JSON', entry: null };
  }
  if (typeof raw !== 'object' || raw === null || !Number.isSafeInteger(raw.q) || typeof raw.h !== 'string') {
    return { ok: false, why: 'not a ledger entry (no q/h)', entry: null };
  }
  const h = raw.h as string;
  const { q, h: _, ...rest } = raw;
  const entry = (raw.type === undefined ? fullCharge(raw, prevHash ?? '', h) : { ...rest, seq: q, prev_hash: prevHash ?? '', hash: h }) as LedgerEntry;
  const at = line.length - H_SUFFIX_LENGTH;
  if (at < 1 || !line.startsWith(H_MEMBER, at) || !line.endsWith('"}')) return { ok: false, why: 'no trailing "h" member', entry };
  if (prevHash !== null && chainHash(prevHash, `${line.slice(0, at)}}`) !== h) {
    return { ok: false, why: 'hash does not match the entry and the one before it: this line, or the line before it, was edited, deleted or moved', entry };
  }
  return { ok: true, entry };
}

/** seq and hash of a line in either format (its own members; no check). */
export function seqAndHash(line: string): { seq: number; hash: string } {
  const raw = JSON.parse(line) as Record<string, any>;
  return raw.h !== undefined ? { seq: raw.q, hash: raw.h } : { seq: raw.seq, hash: raw.hash };
}
