/**
 * Appends sealed lines to the newest ledger file in two stages, each grouping many entries:
 * - write: within `commitWindowMs` of being appended, a batch reaches the file (the page cache):
 *   from then on it survives a crash of the process (an OOM kill, a panic);
 * - sync: within `syncIntervalMs` of being written, one fdatasync makes everything written so far
 *   durable: from then on it survives a crash of the machine. An entry is acknowledged (its promise
 *   resolves) once the sync that carries it returns.
 * A write is a few microseconds of CPU, a sync on the VMs this runs on ~0.1 ms of the process's own
 * CPU and more of the kernel's (bench/RESULTS.md): syncing every few milliseconds at low load was
 * the largest single cost of a request. An entry whose `written` promise is asked for (a request
 * holding its answer's final bytes until its charge is in the file) is written at the end of the
 * event-loop turn instead of the window's end, with everything else appended in that turn; such a
 * write does not wait for a sync in flight. Writes and syncs run one at a time, in order. Files rotate
 * by size at line boundaries; a write or sync failure stops the writer for good (the next start
 * quarantines any partial line), so nothing is ever written after a gap.
 */
import { writeSync } from 'node:fs';
import { mkdir, open, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import type { ChainHead } from './chain.ts';
import { sealEntry, type EntryBody, type LedgerEntry } from './entry.ts';
import { sealCompact, type LineFormat } from './compact.ts';
import { segmentName, type Segment } from './segments.ts';

/** The line format of new ledger files when none is configured: compact (compact.ts); format 1 files stay readable. */
export const DEFAULT_FORMAT: LineFormat = 2;

/** One write() carries at most about this much, however large the batch. */
const WRITE_CHUNK_BYTES = 4 << 20;

export interface CommitStats {
  /** Entries made durable by one sync. */
  entries: number;
  bytes: number;
  /** From the first append among them to the sync's return: the longest any of them waited. */
  seconds: number;
}

export interface WriterOptions {
  dir: string;
  maxFileBytes: number;
  /**
   * Line format of the lines written from now on (default DEFAULT_FORMAT). A file keeps one format:
   * when the newest file has another, the next file starts at once (lines are sealed for their file).
   */
  format?: LineFormat;
  /** Longest an appended entry waits before it is written to the file. */
  commitWindowMs: number;
  /** Longest a written entry waits for the sync that makes it durable (0: sync after every write). */
  syncIntervalMs: number;
  /** A batch this large is written without waiting for the window. */
  maxBatchBytes?: number;
  /** After each sync. */
  onCommit?(stats: CommitStats): void;
  onRotate?(file: string): void;
  /** Called once, when a write or sync fails and the writer stops. */
  onFailure?(err: Error): void;
}

interface Batch {
  lines: string[];
  sizes: number[];
  bytes: number;
  firstAt: number;
  done: Promise<void>;
  resolve(): void;
  reject(err: unknown): void;
  /** Settles once the batch is in the file (before its sync). */
  written: Promise<void>;
  resolveWritten(): void;
}

export interface Appended {
  entry: LedgerEntry;
  /** Resolves once the entry is on stable storage; rejects if the ledger could not write it. */
  acked: Promise<void>;
  /**
   * Resolves once the entry is in the file (the page cache: it survives a crash of the process, not
   * yet of the machine); rejects if the ledger could not write it. Asking for it hastens the write
   * to the end of the current event-loop turn.
   */
  readonly written: Promise<void>;
}

export class LedgerWriter {
  readonly #options: WriterOptions & { maxBatchBytes: number };
  #file: FileHandle;
  #index: number;
  /** The current file's line format. */
  #format: LineFormat;
  #size: number;
  #seq: number;
  #head: string;
  /** Appended, not written yet. */
  #batch: Batch = newBatch();
  /** Written, waiting for a sync. */
  #written: Batch[] = [];
  /** In the hands of the write or sync running now. */
  #inFlight: Batch[] = [];
  /** The batch that took the latest append: settled once everything appended so far is durable. */
  #newest: Promise<void> = Promise.resolve();
  #writeTimer: NodeJS.Timeout | null = null;
  #syncTimer: NodeJS.Timeout | null = null;
  #writeSoon: NodeJS.Immediate | null = null;
  #writeDue = false;
  #syncDue = false;
  /** A write or a sync is running. */
  #busy = false;
  /** The running operation is a sync (a small write may go on meanwhile). */
  #syncing = false;
  #idle: (() => void) | null = null;
  #failure: Error | null = null;
  #closed = false;

  private constructor(options: WriterOptions, file: FileHandle, index: number, format: LineFormat, size: number, head: ChainHead) {
    this.#options = { maxBatchBytes: 1 << 20, ...options };
    this.#file = file;
    this.#index = index;
    this.#format = format;
    this.#size = size;
    this.#seq = head.seq;
    this.#head = head.hash;
  }

  /** Opens for appending after `head`, in `last` (the newest file, already free of any torn tail). */
  static async open(options: WriterOptions, head: ChainHead, last: Segment | null): Promise<LedgerWriter> {
    await mkdir(options.dir, { recursive: true });
    const wanted = options.format ?? DEFAULT_FORMAT;
    let index = last?.index ?? 1;
    let format = last?.format ?? wanted;
    let file = await open(join(options.dir, last?.name ?? segmentName(index, format)), 'a');
    let { size } = await file.stat();
    if (format !== wanted && size > 0) {
      // Files keep one format: the new one starts with the next file.
      await file.close();
      index++;
      format = wanted;
      file = await open(join(options.dir, segmentName(index, format)), 'a');
      size = 0;
    }
    if (!last || size === 0) await syncDir(options.dir);
    return new LedgerWriter(options, file, index, format, size, head);
  }

  get head(): ChainHead {
    return { seq: this.#seq, hash: this.#head };
  }

  /** Why the writer stopped, if it did. */
  get failure(): Error | null {
    return this.#failure;
  }

  /** Seals `body` as the next entry and queues it; never waits on the disk. */
  append(body: EntryBody): Appended {
    if (this.#closed) throw new Error('the ledger is closed');
    const { entry, line } = this.#format === 2 ? sealCompact(body, this.#seq + 1, this.#head) : sealEntry(body, this.#seq + 1, this.#head);
    this.#seq = entry.seq;
    this.#head = entry.hash;
    const batch = this.#batch;
    if (batch.lines.length === 0) batch.firstAt = performance.now();
    const size = Buffer.byteLength(line);
    batch.lines.push(line);
    batch.sizes.push(size);
    batch.bytes += size;
    this.#newest = batch.done;
    if (this.#failure) batch.reject(this.#failure);
    else if (batch.bytes >= this.#options.maxBatchBytes) this.#due('write');
    else this.#writeTimer ??= setTimeout(() => this.#due('write'), this.#options.commitWindowMs);
    const writer = this;
    return {
      entry,
      acked: batch.done,
      get written() {
        writer.#hasten(batch);
        return batch.written;
      },
    };
  }

  /** Someone waits for `batch` to be in the file: write it at the end of this event-loop turn. */
  #hasten(batch: Batch): void {
    if (batch !== this.#batch || this.#writeSoon !== null || this.#failure) return;
    this.#writeSoon = setImmediate(() => {
      this.#writeSoon = null;
      this.#due('write');
    });
  }

  /** Writes and syncs now; resolves once everything appended so far is on stable storage. */
  flush(): Promise<void> {
    if (this.#failure) return Promise.reject(this.#failure);
    const newest = this.#newest;
    this.#writeDue = true;
    this.#syncDue = true;
    this.#pump();
    return newest;
  }

  async close(): Promise<void> {
    await this.flush().catch(() => {});
    if (this.#busy) await new Promise<void>((resolve) => (this.#idle = resolve));
    this.#closed = true;
    this.#clearTimers();
    await this.#file.close();
  }

  #due(stage: 'write' | 'sync'): void {
    if (stage === 'write') {
      this.#writeTimer = null;
      this.#writeDue = true;
    } else {
      this.#syncTimer = null;
      this.#syncDue = true;
    }
    this.#pump();
  }

  /** Starts the next due write or sync, unless one is running (it calls back here when done). */
  #pump(): void {
    if (this.#failure) return;
    if (this.#busy) {
      // A sync runs in the thread pool; a small write to the page cache need not wait for it.
      if (this.#syncing && this.#writeDue && this.#batch.lines.length > 0 && this.#fits(this.#batch)) this.#writeBeside();
      return;
    }
    if (this.#writeDue && this.#batch.lines.length > 0) void this.#runWrite();
    else if (this.#syncDue && this.#written.length > 0) void this.#runSync();
    else {
      this.#writeDue = false;
      this.#syncDue = false;
      this.#idle?.();
      this.#idle = null;
    }
  }

  async #runWrite(): Promise<void> {
    this.#busy = true;
    const batch = this.#takeBatch();
    this.#inFlight = [batch];
    try {
      if (this.#fits(batch)) this.#writeNow(batch);
      else await this.#write(batch);
    } catch (err) {
      return this.#fail(err);
    }
    this.#inFlight = [];
    this.#afterWrite(batch);
    // Appended while this write ran: their window timer is already running.
    this.#busy = false;
    this.#pump();
  }

  /** A small write while a sync runs: the sync covers what preceded it, the next one this batch. */
  #writeBeside(): void {
    const batch = this.#takeBatch();
    try {
      this.#writeNow(batch);
    } catch (err) {
      this.#inFlight.push(batch);
      return this.#fail(err);
    }
    this.#afterWrite(batch);
  }

  #takeBatch(): Batch {
    this.#writeDue = false;
    if (this.#writeTimer) clearTimeout(this.#writeTimer);
    this.#writeTimer = null;
    const batch = this.#batch;
    this.#batch = newBatch();
    return batch;
  }

  #afterWrite(batch: Batch): void {
    batch.resolveWritten();
    this.#written.push(batch);
    if (this.#options.syncIntervalMs <= 0) this.#syncDue = true;
    else this.#syncTimer ??= setTimeout(() => this.#due('sync'), this.#options.syncIntervalMs);
  }

  async #runSync(): Promise<void> {
    this.#busy = true;
    this.#syncing = true;
    this.#syncDue = false;
    if (this.#syncTimer) clearTimeout(this.#syncTimer);
    this.#syncTimer = null;
    const batches = this.#written;
    this.#written = [];
    this.#inFlight = batches;
    try {
      await this.#file.datasync();
    } catch (err) {
      this.#syncing = false;
      return this.#fail(err);
    }
    this.#syncing = false;
    if (this.#failure) return;
    this.#inFlight = [];
    let entries = 0;
    let bytes = 0;
    for (const b of batches) {
      entries += b.lines.length;
      bytes += b.bytes;
      b.resolve();
    }
    this.#options.onCommit?.({ entries, bytes, seconds: (performance.now() - batches[0]!.firstAt) / 1000 });
    this.#busy = false;
    this.#pump();
  }

  /** A write or sync failed: nothing more is written, and nothing not yet durable is acknowledged. */
  #fail(err: unknown): void {
    this.#failure = err instanceof Error ? err : new Error(String(err));
    for (const b of [...this.#inFlight, ...this.#written, this.#batch]) b.reject(this.#failure);
    this.#inFlight = [];
    this.#written = [];
    this.#clearTimers();
    this.#busy = false;
    this.#idle?.();
    this.#idle = null;
    this.#options.onFailure?.(this.#failure);
  }

  #clearTimers(): void {
    if (this.#writeTimer) clearTimeout(this.#writeTimer);
    if (this.#syncTimer) clearTimeout(this.#syncTimer);
    if (this.#writeSoon) clearImmediate(this.#writeSoon);
    this.#writeTimer = null;
    this.#syncTimer = null;
    this.#writeSoon = null;
  }

  /** The batch goes into the current file in one write. */
  #fits(batch: Batch): boolean {
    return batch.bytes < WRITE_CHUNK_BYTES && this.#size + batch.bytes <= this.#options.maxFileBytes;
  }

  /**
   * One write to the page cache, on this thread: microseconds, where a trip through the I/O thread
   * pool (a thread woken, then this one) cost more than the write itself. Only the sync, which can
   * take milliseconds, goes to the pool.
   */
  #writeNow(batch: Batch): void {
    const buffer = Buffer.from(batch.lines.join(''));
    for (let written = 0; written < buffer.length; ) written += writeSync(this.#file.fd, buffer, written);
    this.#size += batch.bytes;
  }

  /** Writes the batch, in bounded chunks, rotating where a file fills up. */
  async #write(batch: Batch): Promise<void> {
    let from = 0;
    let bytes = 0;
    for (let i = 0; i < batch.lines.length; i++) {
      const size = batch.sizes[i]!;
      const fileFull = this.#size + bytes > 0 && this.#size + bytes + size > this.#options.maxFileBytes;
      if (fileFull || bytes >= WRITE_CHUNK_BYTES) {
        await this.#writeChunk(batch.lines.slice(from, i), bytes);
        if (fileFull) await this.#rotate();
        from = i;
        bytes = 0;
      }
      bytes += size;
    }
    await this.#writeChunk(from === 0 ? batch.lines : batch.lines.slice(from), bytes);
  }

  async #writeChunk(lines: string[], bytes: number): Promise<void> {
    if (lines.length === 0) return;
    const buffer = Buffer.from(lines.join(''));
    let written = 0;
    while (written < buffer.length) {
      const { bytesWritten } = await this.#file.write(buffer, written);
      written += bytesWritten;
    }
    this.#size += bytes;
  }

  /**
   * The chain goes on in the next file: its first entry's prev_hash is this file's last hash. The
   * full file is synced before it is closed; the next sync covers the new one.
   */
  async #rotate(): Promise<void> {
    await this.#file.datasync();
    await this.#file.close();
    this.#index++;
    const name = segmentName(this.#index, this.#format);
    this.#file = await open(join(this.#options.dir, name), 'a');
    this.#size = 0;
    await syncDir(this.#options.dir);
    this.#options.onRotate?.(name);
  }
}

function newBatch(): Batch {
  let resolve!: () => void;
  let reject!: (err: unknown) => void;
  const done = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  let resolveWritten!: () => void;
  let rejectWritten!: (err: unknown) => void;
  const written = new Promise<void>((res, rej) => {
    resolveWritten = res;
    rejectWritten = rej;
  });
  // Callers that do not wait for the ack (the request path) must not turn a failure into an
  // unhandled rejection; the failure is reported by the ledger itself.
  done.catch(() => {});
  written.catch(() => {});
  return {
    lines: [],
    sizes: [],
    bytes: 0,
    firstAt: 0,
    done,
    resolve,
    // A batch that failed before it was written fails both ways; once written, only its ack can.
    reject: (err) => {
      rejectWritten(err);
      reject(err);
    },
    written,
    resolveWritten,
  };
}

/** Makes a new file's directory entry durable. */
export async function syncDir(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
