/**
 * Retention: closed ledger files that a later checkpoint covers are compressed into an archive
 * directory (and, when configured, handed to an archive command, e.g. an upload to object
 * storage), and only then removed from the ledger directory.
 *
 * A file is archived only when (1) it is not the newest, (2) the newest checkpoint lies in a later
 * file, so start-up never needs it, and (3) the policy says so (older than `keepDays`, or the
 * ledger is over `keepBytes`), oldest first and without gaps. Each step confirms before the next:
 * the `.gz` is written to a temporary name, synced and renamed; it is read back and its content's
 * sha256 compared with the file's; the command, if any, must exit 0; the record in
 * `<dir>/archived.json` (seq range, last hash, both sha256) is written atomically; only then is
 * the file deleted. The chain stays verifiable across the boundary: the first kept file's first
 * prev_hash is the recorded last hash, and `ledger verify` walks the archived files too.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream, existsSync, type Stats } from 'node:fs';
import { mkdir, open, rename, rm, stat, writeFile } from 'node:fs/promises';
import { isAbsolute, join } from 'node:path';
import { Transform } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';
import { pipeline } from 'node:stream/promises';
import { createGunzip, createGzip } from 'node:zlib';
import { ChainCheck, type Position } from './chain.ts';
import { findLastCheckpoint } from './checkpoint.ts';
import type { LedgerEntry } from './entry.ts';
import { seqAndHash } from './compact.ts';
import { ARCHIVE_MANIFEST, formatOf, listSegments, readArchiveManifest, type ArchivedSegment, type ArchiveManifest, type Segment } from './segments.ts';
import { syncDir } from './writer.ts';

export interface RetentionPolicy {
  /** Where compressed files go (relative paths are under the ledger directory). */
  archiveDir: string;
  /** Archive closed files whose last write is older than this many days. */
  keepDays?: number | null;
  /** Archive the oldest closed files while the ledger directory holds more than this. */
  keepBytes?: number | null;
  /** Run for each archived file (`sh -c`, with TOLLBOOTH_ARCHIVE_FILE set); the file is removed only after exit 0. */
  command?: string | null;
}

export function archiveDirOf(dir: string, policy: Pick<RetentionPolicy, 'archiveDir'>): string {
  return isAbsolute(policy.archiveDir) ? policy.archiveDir : join(dir, policy.archiveDir);
}

/** Archives what the policy allows; returns what it archived, in chain order. */
export async function archiveSegments(dir: string, policy: RetentionPolicy, now = new Date()): Promise<ArchivedSegment[]> {
  const archiveDir = archiveDirOf(dir, policy);
  const segments = listSegments(dir);
  const manifest: ArchiveManifest = readArchiveManifest(dir) ?? { archive_dir: archiveDir, segments: [] };
  // A crash after the record and before the delete: the file is archived and recorded already.
  const recorded = new Set(manifest.segments.map((s) => s.name));
  const leftover = segments.filter((s) => recorded.has(s.name) && existsSync(join(manifest.archive_dir, `${s.name}.gz`)));
  for (const s of leftover) await rm(s.path);
  const live = segments.filter((s) => !leftover.includes(s));

  const covering = findLastCheckpoint(live);
  if (covering === null) return [];
  const candidates = live.slice(0, covering.segment);
  const stats = new Map<string, Stats>();
  for (const s of live) stats.set(s.name, await stat(s.path));
  let total = [...stats.values()].reduce((sum, st) => sum + st.size, 0);
  const archived: ArchivedSegment[] = [];
  await mkdir(archiveDir, { recursive: true });
  for (const segment of candidates) {
    const st = stats.get(segment.name)!;
    const old = policy.keepDays != null && st.mtimeMs < now.getTime() - policy.keepDays * 86_400_000;
    const over = policy.keepBytes != null && total > policy.keepBytes;
    if (!old && !over) break;
    const record = await archiveOne(dir, archiveDir, segment, policy.command ?? null, now);
    manifest.segments.push(record);
    manifest.archive_dir = archiveDir;
    await writeManifest(dir, manifest);
    await rm(segment.path);
    await syncDir(dir);
    total -= st.size;
    archived.push(record);
  }
  return archived;
}

async function archiveOne(dir: string, archiveDir: string, segment: Segment, command: string | null, now: Date): Promise<ArchivedSegment> {
  const target = join(archiveDir, `${segment.name}.gz`);
  const temporary = `${target}.tmp`;
  const original = createHash('sha256');
  const ends = new LineEnds();
  await pipeline(createReadStream(segment.path), tap((chunk) => (original.update(chunk), ends.push(chunk))), createGzip(), createWriteStream(temporary));
  const handle = await open(temporary, 'r+');
  await handle.sync();
  await handle.close();
  await rename(temporary, target);
  await syncDir(archiveDir);
  // Confirm: the archive decompresses to exactly the file's bytes.
  const sha256 = original.digest('hex');
  const readBack = createHash('sha256');
  const gz = createHash('sha256');
  await pipeline(createReadStream(target), tap((chunk) => gz.update(chunk)), createGunzip(), tap((chunk) => readBack.update(chunk)), sink());
  if (readBack.digest('hex') !== sha256) throw new Error(`${target}: the archive does not read back as ${segment.name}; the file is kept`);
  if (command) {
    const run = spawnSync('sh', ['-c', command], { env: { ...process.env, TOLLBOOTH_ARCHIVE_FILE: target, TOLLBOOTH_LEDGER_DIR: dir }, stdio: 'inherit' });
    if (run.status !== 0) throw new Error(`the archive command exited ${run.status ?? run.signal} for ${target}; ${segment.name} is kept`);
  }
  const first = seqAndHash(ends.first);
  const last = seqAndHash(ends.last);
  return {
    name: segment.name,
    index: segment.index,
    first_seq: first.seq,
    last_seq: last.seq,
    last_hash: last.hash,
    lines: ends.lines,
    sha256,
    gz_sha256: gz.digest('hex'),
    archived_at: now.toISOString(),
  };
}

async function writeManifest(dir: string, manifest: ArchiveManifest): Promise<void> {
  const path = join(dir, ARCHIVE_MANIFEST);
  await writeFile(`${path}.tmp`, `${JSON.stringify(manifest, null, 2)}\n`, { flush: true });
  await rename(`${path}.tmp`, path);
  await syncDir(dir);
}

/** The first and last complete lines of a stream, and how many, holding only those. */
class LineEnds {
  first = '';
  last = '';
  lines = 0;
  #partial = '';

  push(chunk: Buffer): void {
    const text = this.#partial + chunk.toString('latin1');
    const parts = text.split('\n');
    this.#partial = parts.pop()!;
    for (const p of parts) {
      if (this.lines === 0) this.first = Buffer.from(p, 'latin1').toString('utf8');
      this.lines++;
    }
    if (parts.length > 0) this.last = Buffer.from(parts.at(-1)!, 'latin1').toString('utf8');
  }
}

function tap(onChunk: (chunk: Buffer) => void): Transform {
  return new Transform({
    transform(chunk: Buffer, _enc, done) {
      onChunk(chunk);
      done(null, chunk);
    },
  });
}

function sink(): Transform {
  return new Transform({
    transform(_chunk, _enc, done) {
      done();
    },
  });
}

export interface ArchiveWalk {
  check: ChainCheck;
  /** Archived files read and checked. */
  checked: number;
  /** Archived files that could not be read here (archive elsewhere, e.g. object storage). */
  unreadable: string[];
}

/**
 * Walks the archived files in chain order: each `.gz` against its recorded sha256, and every line
 * through the chain check, then visits the entries (for the replay a verify compares checkpoints with).
 */
export async function walkArchive(dir: string, visit: (entry: LedgerEntry, at: Position) => void): Promise<ArchiveWalk | null> {
  const manifest = readArchiveManifest(dir);
  if (manifest === null) return null;
  const check = new ChainCheck();
  const unreadable: string[] = [];
  let checked = 0;
  for (const s of [...manifest.segments].sort((a, b) => a.index - b.index)) {
    const path = join(manifest.archive_dir, `${s.name}.gz`);
    const file = `${manifest.archive_dir}/${s.name}.gz`;
    if (!existsSync(path)) {
      unreadable.push(path);
      check.expectedSeq = s.last_seq + 1;
      check.prevHash = s.last_hash;
      continue;
    }
    const gzHash = createHash('sha256');
    const decoder = new StringDecoder('utf8');
    let partial = '';
    let line = 0;
    try {
      const source = createReadStream(path);
      source.on('data', (chunk) => gzHash.update(chunk as Buffer));
      for await (const chunk of source.pipe(createGunzip())) {
        const parts = (partial + decoder.write(chunk as Buffer)).split('\n');
        partial = parts.pop()!;
        for (const text of parts) check.line(text, { file, line: ++line }, visit, formatOf(s.name));
      }
    } catch (err) {
      check.problems.push({ file, line, message: `the archived file cannot be read: ${(err as Error).message}` });
    }
    const gz = gzHash.digest('hex');
    if (gz !== s.gz_sha256) check.problems.push({ file, line: 0, message: `the archived file is not the one archived (sha256 ${gz}, recorded ${s.gz_sha256})` });
    if (partial.length > 0) check.problems.push({ file, line: line + 1, message: `${partial.length} bytes without a final newline` });
    if (check.head.seq !== s.last_seq || check.head.hash !== s.last_hash) {
      check.problems.push({ file, line, message: `ends at seq ${check.head.seq}, where ${ARCHIVE_MANIFEST} records seq ${s.last_seq} and hash ${s.last_hash}` });
    }
    checked++;
  }
  return { check, checked, unreadable };
}
