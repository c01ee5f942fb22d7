/**
 * Walks the ledger files in order and checks the chain: every line's own hash, `seq` without gap or
 * repeat, and `prev_hash` equal to the previous entry's hash, across file boundaries. Problems
 * carry the file and line, so an edited, deleted or reordered entry is found where it is.
 */
import { checkCompactLine, type LineFormat } from './compact.ts';
import { checkLine, GENESIS_HASH, type LedgerEntry } from './entry.ts';
import { ARCHIVE_MANIFEST, archivedBefore, listSegments, scanLines, type Segment } from './segments.ts';

export interface Position {
  file: string;
  /** 1-based line number in `file`. */
  line: number;
}

export interface ChainProblem extends Position {
  message: string;
}

/** Bytes after the last newline of the newest file: a write cut by a crash, never acknowledged. */
export interface TornTail extends Position {
  segment: Segment;
  offset: number;
  bytes: Buffer;
}

export interface ChainHead {
  seq: number;
  hash: string;
}

export interface ChainWalk {
  segments: Segment[];
  head: ChainHead;
  /** Entries visited (from `from` on, when given). */
  entries: number;
  problems: ChainProblem[];
  torn: TornTail | null;
}

/** Where a walk starts other than at the first entry ever: a checkpoint trusted by its own hash. */
export interface WalkFrom {
  /** Index in the list of segments. */
  segment: number;
  offset: number;
  line: number;
  /** The seq and prev_hash the entry there must have. */
  seq: number;
  prevHash: string;
}

/**
 * Checks lines one at a time, in chain order: each line's own hash, then its seq and prev_hash
 * against the line before. Used over ledger files and over archived (compressed) ones alike.
 */
export class ChainCheck {
  expectedSeq: number;
  prevHash: string | null;
  head: ChainHead = { seq: 0, hash: GENESIS_HASH };
  entries = 0;
  readonly problems: ChainProblem[] = [];

  constructor(seq = 1, prevHash: string | null = GENESIS_HASH) {
    this.expectedSeq = seq;
    this.prevHash = prevHash;
  }

  line(text: string, at: Position, visit: (entry: LedgerEntry, at: Position) => void, format: LineFormat = 1): void {
    const checked = format === 2 ? checkCompactLine(text, this.prevHash) : checkLine(text);
    const entry = checked.entry;
    if (!checked.ok) this.problems.push({ ...at, message: checked.why });
    if (entry === null) {
      this.expectedSeq++;
      this.prevHash = null;
      return;
    }
    // A compact line's hash covers the line before it: a deletion fails the hash, and shows as a gap too.
    if (checked.ok || format === 2) {
      const order = orderProblem(entry, this.expectedSeq, this.prevHash);
      if (order) this.problems.push({ ...at, message: order });
    }
    visit(entry, at);
    this.entries++;
    this.expectedSeq = entry.seq + 1;
    this.prevHash = typeof entry.hash === 'string' ? entry.hash : null;
    this.head = { seq: entry.seq, hash: this.prevHash ?? '' };
  }
}

/**
 * Visits every entry that could be read (also around problems, so a summary stays possible).
 * Without `from`, the walk starts at the first file; when older files were archived, from the
 * link the archive record gives (the last archived entry's seq and hash).
 */
export function walkChain(
  dir: string,
  visit: (entry: LedgerEntry, at: Position) => void = () => {},
  from: WalkFrom | null = null,
  segments: Segment[] = listSegments(dir),
): ChainWalk {
  const first = segments[0];
  let check: ChainCheck;
  if (from !== null) check = new ChainCheck(from.seq, from.prevHash);
  else if (first !== undefined && first.index > 1) {
    const link = archivedBefore(dir, first.index);
    check = link ? new ChainCheck(link.last_seq + 1, link.last_hash) : new ChainCheck(1, GENESIS_HASH);
    if (!link) check.problems.push({ file: first.name, line: 1, message: `the files before ${first.name} are missing and no archive record (${ARCHIVE_MANIFEST}) covers them` });
  } else check = new ChainCheck();
  let torn: TornTail | null = null;

  for (let i = from?.segment ?? 0; i < segments.length; i++) {
    const segment = segments[i]!;
    const start = from !== null && i === from.segment ? { offset: from.offset, line: from.line } : { offset: 0, line: 1 };
    const scan = scanLines(segment.path, (bytes, { line }) => check.line(bytes.toString('utf8'), { file: segment.name, line }, visit, segment.format), start);
    if (scan.tail.length > 0) {
      const at = { file: segment.name, line: start.line + scan.lines };
      if (i === segments.length - 1) torn = { ...at, segment, offset: scan.tailOffset, bytes: scan.tail };
      else check.problems.push({ ...at, message: `${scan.tail.length} bytes without a final newline in a file that is not the newest` });
    }
  }
  return { segments, head: check.head, entries: check.entries, problems: check.problems, torn };
}

function orderProblem(entry: LedgerEntry, expectedSeq: number, prevHash: string | null): string | null {
  if (entry.seq > expectedSeq) {
    const missing = entry.seq - expectedSeq;
    return `entry seq ${entry.seq} where seq ${expectedSeq} was expected: ${missing} ${missing === 1 ? 'entry is' : 'entries are'} missing before this line (deleted or moved)`;
  }
  if (entry.seq < expectedSeq) {
    return `entry seq ${entry.seq} where seq ${expectedSeq} was expected: the entry is out of order (moved or duplicated)`;
  }
  if (prevHash !== null && entry.prev_hash !== prevHash) {
    return "prev_hash does not match the previous entry's hash: the entry before this line was replaced, or this one moved";
  }
  return null;
}

export function describeProblem(p: ChainProblem): string {
  return `${p.file}:${p.line}: ${p.message}`;
}
