/**
 * Walks the ledger files in order and checks the chain: every line's own hash, `seq` without gap or
 * repeat, and `prev_hash` equal to the previous entry's hash, across file boundaries. Problems
 * carry the file and line, so an edited, deleted or reordered entry is found where it is.
 */
import { checkLine, GENESIS_HASH, type LedgerEntry } from './entry.ts';
import { listSegments, scanLines, type Segment } from './segments.ts';

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

/** Visits every entry that could be read (also around problems, so a summary stays possible). */
export function walkChain(
  dir: string,
  visit: (entry: LedgerEntry, at: Position) => void = () => {},
  from: WalkFrom | null = null,
  segments: Segment[] = listSegments(dir),
): ChainWalk {
  const problems: ChainProblem[] = [];
  let expectedSeq = from?.seq ?? 1;
  let prevHash: string | null = from?.prevHash ?? GENESIS_HASH;
  let head: ChainHead = { seq: 0, hash: GENESIS_HASH };
  let entries = 0;
  let torn: TornTail | null = null;

  for (let i = from?.segment ?? 0; i < segments.length; i++) {
    const segment = segments[i]!;
    const start = from !== null && i === from.segment ? { offset: from.offset, line: from.line } : { offset: 0, line: 1 };
    const scan = scanLines(
      segment.path,
      (bytes, { line }) => {
        const at: Position = { file: segment.name, line };
        const checked = checkLine(bytes.toString('utf8'));
        const entry = checked.entry;
        if (!checked.ok) problems.push({ ...at, message: checked.why });
        if (entry === null) {
          expectedSeq++;
          prevHash = null;
          return;
        }
        if (checked.ok) {
          const order = orderProblem(entry, expectedSeq, prevHash);
          if (order) problems.push({ ...at, message: order });
        }
        visit(entry, at);
        entries++;
        expectedSeq = entry.seq + 1;
        prevHash = typeof entry.hash === 'string' ? entry.hash : null;
        head = { seq: entry.seq, hash: prevHash ?? '' };
      },
      start,
    );
    if (scan.tail.length > 0) {
      const at = { file: segment.name, line: start.line + scan.lines };
      if (i === segments.length - 1) torn = { ...at, segment, offset: scan.tailOffset, bytes: scan.tail };
      else problems.push({ ...at, message: `${scan.tail.length} bytes without a final newline in a file that is not the newest` });
    }
  }
  return { segments, head, entries, problems, torn };
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
