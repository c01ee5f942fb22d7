/**
 * The ledger's files: `<dir>/ledger-000001.jsonl`, `ledger-000002.jsonl`, … in chain order
 * (rotation opens the next number); torn tails set aside under `<dir>/quarantine/`.
 *
 * Files are read as streams of lines through one fixed buffer: memory stays bounded by the buffer
 * and the longest line, whatever the size of a file or of the ledger.
 */
import { closeSync, openSync, readdirSync, readFileSync, readSync } from 'node:fs';
import { join } from 'node:path';
import type { LineFormat } from './compact.ts';

const SEGMENT = /^ledger-(\d{6,})(\.v2)?\.jsonl$/;

/** Bytes read at a time. */
const READ_CHUNK_BYTES = 1 << 20;

/** A file's line format is in its name: `ledger-NNNNNN.jsonl` (1), `ledger-NNNNNN.v2.jsonl` (2, compact.ts). */
export function segmentName(index: number, format: LineFormat = 1): string {
  return `ledger-${String(index).padStart(6, '0')}${format === 2 ? '.v2' : ''}.jsonl`;
}

export function formatOf(name: string): LineFormat {
  return name.includes('.v2.') ? 2 : 1;
}

export interface Segment {
  index: number;
  name: string;
  path: string;
  format: LineFormat;
}

/** The ledger files in `dir`, in chain order (none when the directory does not exist). */
export function listSegments(dir: string): Segment[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  return names
    .map((name) => ({ name, match: SEGMENT.exec(name) }))
    .filter((x) => x.match !== null)
    .map(({ name, match }) => ({ index: Number(match![1]), name, path: join(dir, name), format: (match![2] ? 2 : 1) as LineFormat }))
    .sort((a, b) => a.index - b.index);
}

/** Where reading starts in a file: a line's first byte and its 1-based number. */
export interface LineStart {
  offset: number;
  line: number;
}

export interface SegmentScan {
  /** Complete (newline-terminated) lines visited. */
  lines: number;
  /** Bytes after the last newline: a line cut by a crash mid-write (empty when none). */
  tail: Buffer;
  /** Byte offset where the tail starts (the end of the last complete line). */
  tailOffset: number;
}

/**
 * Visits every complete line of a file from `from` on: its bytes without the newline (a view into
 * a reused buffer: copy or decode it before returning), its offset and its line number.
 */
export function scanLines(path: string, visit: (bytes: Buffer, at: LineStart) => void, from: LineStart = { offset: 0, line: 1 }): SegmentScan {
  const fd = openSync(path, 'r');
  // One buffer for the whole file: the partial last line of a read moves to its start and the next
  // read fills the rest (no allocation per read); it doubles only for a line longer than itself.
  let buffer = Buffer.allocUnsafe(2 * READ_CHUNK_BYTES);
  let kept = 0;
  let position = from.offset;
  let line = from.line;
  let lines = 0;
  try {
    for (;;) {
      if (kept === buffer.length) {
        const bigger = Buffer.allocUnsafe(buffer.length * 2);
        buffer.copy(bigger, 0, 0, kept);
        buffer = bigger;
      }
      const n = readSync(fd, buffer, kept, Math.min(READ_CHUNK_BYTES, buffer.length - kept), position);
      if (n === 0) break;
      /** File offset of buffer[0]. */
      const base = position - kept;
      position += n;
      const end = kept + n;
      let start = 0;
      for (let nl = buffer.indexOf(0x0a, kept); nl !== -1 && nl < end; nl = buffer.indexOf(0x0a, nl + 1)) {
        visit(buffer.subarray(start, nl), { offset: base + start, line });
        line++;
        lines++;
        start = nl + 1;
      }
      buffer.copy(buffer, 0, start, end);
      kept = end - start;
    }
  } finally {
    closeSync(fd);
  }
  return { lines, tail: Buffer.from(buffer.subarray(0, kept)), tailOffset: position - kept };
}

export const QUARANTINE_DIR = 'quarantine';
/** Damaged tails set aside by `tollbooth ledger repair`, one directory per repair. */
export const SET_ASIDE_DIR = 'set-aside';

/** `<dir>/archived.json`: the files retention moved to the archive, and where the chain went on. */
export const ARCHIVE_MANIFEST = 'archived.json';

export interface ArchivedSegment {
  /** The ledger file's name (`ledger-000001.jsonl`); the archive holds `<name>.gz`. */
  name: string;
  index: number;
  first_seq: number;
  last_seq: number;
  /** The hash of its last entry: the next file's first prev_hash. */
  last_hash: string;
  lines: number;
  /** sha256 of the file's bytes, and of the compressed file as archived. */
  sha256: string;
  gz_sha256: string;
  archived_at: string;
}

export interface ArchiveManifest {
  /** Where the compressed files went (a directory; with a command, its staging directory). */
  archive_dir: string;
  segments: ArchivedSegment[];
}

export function readArchiveManifest(dir: string): ArchiveManifest | null {
  try {
    return JSON.parse(readFileSync(join(dir, ARCHIVE_MANIFEST), 'utf8')) as ArchiveManifest;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

/** The archived file just before ledger file `index`, if retention archived it. */
export function archivedBefore(dir: string, index: number): ArchivedSegment | null {
  return readArchiveManifest(dir)?.segments.find((s) => s.index === index - 1) ?? null;
}
