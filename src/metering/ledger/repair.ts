/**
 * `tollbooth ledger repair`: recovery from a damaged chain (an edited, deleted or reordered line,
 * as `ledger verify` reports it), so the gateway does not refuse to start forever.
 *
 * Everything from the first bad line to the end of the chain is the damaged tail. It is copied,
 * unchanged and readable, into `<dir>/set-aside/<time>-seq-<first bad seq>/` (with a REPAIR.json
 * manifest) and made durable first; only then is the ledger cut back to its last good entry. The
 * chain then goes on with a `repair` entry that records what was set aside: the files, the first
 * bad seq, how many lines, and each file's sha256. Balances are the replay of what stays in the
 * chain; the set-aside charges are for an operator to review (and re-grant or re-bill if due).
 * Run with the gateway stopped: the directory lock refuses a repair while a writer holds it.
 */
import { closeSync, copyFileSync, fsyncSync, mkdirSync, openSync, readSync, rmSync, truncateSync, writeFileSync, writeSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { describeProblem, walkChain, type ChainProblem } from './chain.ts';
import { DirLock } from './dir-lock.ts';
import type { RepairEntry, SetAsideFile } from './entry.ts';
import { Ledger } from './ledger.ts';
import { listSegments, scanLines, SET_ASIDE_DIR } from './segments.ts';
import { syncDir } from './writer.ts';

export interface RepairResult {
  /** Null when the chain was intact: nothing was done. */
  entry: RepairEntry | null;
  /** The directory the damaged tail was set aside to. */
  setAsideDir: string | null;
  problems: ChainProblem[];
}

export async function repairLedger(dir: string, now = new Date()): Promise<RepairResult> {
  const lock = DirLock.acquire(dir, { instance: 'ledger-repair' });
  let body: Omit<RepairEntry, 'seq' | 'prev_hash' | 'hash'>;
  let aside: string;
  let problems: ChainProblem[];
  try {
    const segments = listSegments(dir);
    problems = walkChain(dir, () => {}, null, segments).problems;
    if (problems.length === 0) return { entry: null, setAsideDir: null, problems };
    const first = problems[0]!;
    const k = segments.findIndex((s) => s.name === first.file);
    // The last good entry: everything before the first bad line.
    let lastSeq = 0;
    walkChain(dir, (entry, at) => {
      const i = segments.findIndex((s) => s.name === at.file);
      if (i < k || (i === k && at.line < first.line)) lastSeq = entry.seq;
    }, null, segments.slice(0, k + 1));
    let offset = -1;
    scanLines(segments[k]!.path, (_bytes, at) => {
      if (at.line === first.line) offset = at.offset;
    });
    if (offset < 0) throw new Error(`${first.file}:${first.line}: the line could not be found again; is a writer running?`);

    const name = `${now.toISOString().replace(/[:.]/g, '-')}-seq-${lastSeq + 1}`;
    aside = join(dir, SET_ASIDE_DIR, name);
    mkdirSync(aside, { recursive: true });
    const files: SetAsideFile[] = [];
    const damaged = segments.slice(k);
    damaged.forEach((segment, j) => {
      const fromLine = j === 0 ? first.line : 1;
      const target = `${segment.name}.from-line-${fromLine}`;
      if (j === 0) copyFrom(segment.path, offset, join(aside, target));
      else copyFileSync(segment.path, join(aside, target));
      files.push({ file: join(SET_ASIDE_DIR, name, target), from: segment.name, from_line: fromLine, ...describeFile(join(aside, target)) });
    });
    body = {
      type: 'repair',
      ts: now.toISOString(),
      first_bad_seq: lastSeq + 1,
      problem: describeProblem(first),
      set_aside: files,
      count: files.reduce((n, f) => n + f.lines, 0),
    };
    writeFileSync(join(aside, 'REPAIR.json'), `${JSON.stringify({ ...body, problems: problems.map(describeProblem) }, null, 2)}\n`, { flush: true });
    await syncDir(aside);
    await syncDir(join(dir, SET_ASIDE_DIR));
    // The copies are durable: now the chain is cut back to its last good entry.
    truncateSync(segments[k]!.path, offset);
    const fd = openSync(segments[k]!.path, 'r+');
    fsyncSync(fd);
    closeSync(fd);
    for (const segment of damaged.slice(1)) rmSync(segment.path);
    await syncDir(dir);
  } finally {
    lock.release();
  }
  // The repair entry goes on in the cut file, in its format (a format change is the gateway's to make).
  const ledger = await Ledger.open({ dir, instance: 'ledger-repair', format: listSegments(dir).at(-1)?.format });
  try {
    const appended = ledger.recordRepair(body);
    await appended.acked;
    return { entry: appended.entry as RepairEntry, setAsideDir: aside, problems };
  } finally {
    await ledger.close();
  }
}

/** Copies `path` from byte `offset` on into a new durable file, through one bounded buffer. */
function copyFrom(path: string, offset: number, target: string): void {
  const input = openSync(path, 'r');
  const output = openSync(target, 'wx');
  try {
    const buffer = Buffer.allocUnsafe(1 << 20);
    for (let at = offset; ; ) {
      const n = readSync(input, buffer, 0, buffer.length, at);
      if (n === 0) break;
      for (let w = 0; w < n; ) w += writeSync(output, buffer, w, n - w);
      at += n;
    }
    fsyncSync(output);
  } finally {
    closeSync(input);
    closeSync(output);
  }
}

function describeFile(path: string): { lines: number; bytes: number; sha256: string } {
  const sha = createHash('sha256');
  let bytes = 0;
  const scan = scanLines(path, (line) => {
    sha.update(line);
    sha.update('\n');
    bytes += line.length + 1;
  });
  sha.update(scan.tail);
  bytes += scan.tail.length;
  const fd = openSync(path, 'r');
  fsyncSync(fd);
  closeSync(fd);
  return { lines: scan.lines + (scan.tail.length > 0 ? 1 : 0), bytes, sha256: sha.digest('hex') };
}
