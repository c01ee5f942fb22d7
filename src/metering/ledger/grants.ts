/**
 * Grant entries read back from the chain. Checkpoints hold only the grant ids an org has seen (what
 * replay needs to apply an id once); a grant's body is read from the ledger files when it is asked
 * for: a retried top-up (the answer repeats the recorded entry) and `ledger reconcile --repair`
 * (which writes the bodies back to the shared store). Both read as streams: memory stays bounded
 * whatever the history.
 */
import { createReadStream, existsSync } from 'node:fs';
import { join } from 'node:path';
import { StringDecoder } from 'node:string_decoder';
import { createGunzip } from 'node:zlib';
import { hashBefore, readBytes } from './checkpoint.ts';
import { checkCompactLine, seqAndHash, type LineFormat } from './compact.ts';
import { checkLine, GENESIS_HASH, type GrantEntry, type LedgerEntry } from './entry.ts';
import { formatOf, listSegments, readArchiveManifest, scanLines, type Segment } from './segments.ts';

/** Grant entries a process appended itself, newest last, at most `capacity` (the rest is read from the files). */
export class RecentGrants {
  readonly #byKey = new Map<string, GrantEntry>();
  readonly #capacity: number;

  constructor(capacity = 1024) {
    this.#capacity = capacity;
  }

  get(org: string, grantId: string): GrantEntry | undefined {
    return this.#byKey.get(grantKey(org, grantId));
  }

  add(entry: GrantEntry): void {
    this.#byKey.set(grantKey(entry.org, entry.grant_id), entry);
    if (this.#byKey.size > this.#capacity) this.#byKey.delete(this.#byKey.keys().next().value!);
  }
}

function grantKey(org: string, grantId: string): string {
  return `${org}\0${grantId}`;
}

/**
 * The grant entry recorded for (org, grant id): the ledger files searched newest first, then the
 * archived ones that are readable here; null when none holds it. Only lines that name the id are
 * parsed.
 */
export async function findGrant(dir: string, org: string, grantId: string): Promise<GrantEntry | null> {
  const needle = Buffer.from(`"grant_id":${JSON.stringify(grantId)}`);
  const segments = listSegments(dir);
  for (let i = segments.length - 1; i >= 0; i--) {
    const found = findInSegment(segments, i, needle, org, grantId);
    if (found) return found;
  }
  const manifest = readArchiveManifest(dir);
  const archived = manifest?.segments ?? [];
  for (const s of [...archived].sort((a, b) => b.index - a.index)) {
    let found: GrantEntry | null = null;
    const first = s.index === 1 ? GENESIS_HASH : (archived.find((a) => a.index === s.index - 1)?.last_hash ?? null);
    await readArchivedLines(join(manifest!.archive_dir, `${s.name}.gz`), (text, before) => {
      if (found !== null || !text.includes(needle.toString())) return;
      const prev = before === null ? first : seqAndHash(before).hash;
      found = matching(parse(text, prev, formatOf(s.name)), org, grantId);
    });
    if (found) return found;
  }
  return null;
}

function findInSegment(segments: Segment[], i: number, needle: Buffer, org: string, grantId: string): GrantEntry | null {
  const segment = segments[i]!;
  let found: GrantEntry | null = null;
  let previous: { offset: number; length: number } | null = null;
  scanLines(segment.path, (bytes, at) => {
    if (bytes.indexOf(needle) !== -1) {
      const text = bytes.toString('utf8');
      // A compact line's hash covers the one before it: that hash is needed to give the entry in full.
      const prev = segment.format === 1 ? null : previous ? seqAndHash(readBytes(segment.path, previous.offset, previous.length).toString('utf8')).hash : hashBefore(segments, i);
      found = matching(parse(text, prev, segment.format), org, grantId) ?? found;
    }
    previous = { offset: at.offset, length: bytes.length };
  });
  return found;
}

function parse(text: string, prevHash: string | null, format: LineFormat): LedgerEntry | null {
  return (format === 2 ? checkCompactLine(text, prevHash) : checkLine(text)).entry;
}

function matching(entry: LedgerEntry | null, org: string, grantId: string): GrantEntry | null {
  return entry?.type === 'grant' && entry.org === org && entry.grant_id === grantId ? entry : null;
}

/** Visits every line of an archived (gzip) file with the line before it (null for the first). */
async function readArchivedLines(path: string, visit: (text: string, before: string | null) => void): Promise<void> {
  if (!existsSync(path)) return;
  const decoder = new StringDecoder('utf8');
  let partial = '';
  let prev: string | null = null;
  for await (const chunk of createReadStream(path).pipe(createGunzip())) {
    const parts = (partial + decoder.write(chunk as Buffer)).split('\n');
    partial = parts.pop()!;
    for (const text of parts) {
      visit(text, prev);
      prev = text;
    }
  }
}
