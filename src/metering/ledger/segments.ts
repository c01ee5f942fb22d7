/**
 * The ledger's files: `<dir>/ledger-000001.jsonl`, `ledger-000002.jsonl`, … in chain order
 * (rotation opens the next number); torn tails set aside under `<dir>/quarantine/`.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const SEGMENT = /^ledger-(\d{6,})\.jsonl$/;

export function segmentName(index: number): string {
  return `ledger-${String(index).padStart(6, '0')}.jsonl`;
}

export interface Segment {
  index: number;
  name: string;
  path: string;
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
    .map(({ name, match }) => ({ index: Number(match![1]), name, path: join(dir, name) }))
    .sort((a, b) => a.index - b.index);
}

export interface SegmentLines {
  /** Complete (newline-terminated) lines, without their newline. */
  lines: string[];
  /** Bytes after the last newline: a line cut by a crash mid-write (empty when none). */
  tail: Buffer;
  /** Byte offset where the tail starts. */
  tailOffset: number;
}

export function readSegment(path: string): SegmentLines {
  const bytes = readFileSync(path);
  const end = bytes.lastIndexOf(0x0a) + 1;
  const text = bytes.subarray(0, end).toString('utf8');
  const lines = text.length === 0 ? [] : text.slice(0, -1).split('\n');
  return { lines, tail: bytes.subarray(end), tailOffset: end };
}

export const QUARANTINE_DIR = 'quarantine';
