/**
 * Appends sealed lines to the newest ledger file with group commit: lines appended while a commit
 * is being written wait for the next one, so under load one write + fdatasync carries many entries,
 * and at low load an entry waits at most the commit window plus one fsync. An entry is acknowledged
 * (its promise resolves) once the fsync that carries it returns. Files rotate by size at line
 * boundaries; a write failure stops the writer for good (the next start quarantines any partial
 * line), so nothing is ever written after a gap.
 */
import { mkdir, open, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import type { ChainHead } from './chain.ts';
import { sealEntry, type EntryBody, type LedgerEntry } from './entry.ts';
import { segmentName, type Segment } from './segments.ts';

/** One write() carries at most about this much, however large the batch. */
const WRITE_CHUNK_BYTES = 4 << 20;

export interface CommitStats {
  entries: number;
  bytes: number;
  /** From the batch's first append to its fsync: the longest any of its entries waited. */
  seconds: number;
}

export interface WriterOptions {
  dir: string;
  maxFileBytes: number;
  commitWindowMs: number;
  /** A batch this large is written without waiting for the window. */
  maxBatchBytes?: number;
  onCommit?(stats: CommitStats): void;
  onRotate?(file: string): void;
  /** Called once, when a write or fsync fails and the writer stops. */
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
}

export interface Appended {
  entry: LedgerEntry;
  /** Resolves once the entry is on disk (fsynced); rejects if the ledger could not write it. */
  acked: Promise<void>;
}

export class LedgerWriter {
  readonly #options: WriterOptions & { maxBatchBytes: number };
  #file: FileHandle;
  #index: number;
  #size: number;
  #seq: number;
  #head: string;
  #batch: Batch = newBatch();
  #timer: NodeJS.Timeout | null = null;
  #committing = false;
  #failure: Error | null = null;
  #closed = false;
  /** The batch being written (settled once its fsync returns). */
  #lastCommit: Promise<void> = Promise.resolve();

  private constructor(options: WriterOptions, file: FileHandle, index: number, size: number, head: ChainHead) {
    this.#options = { maxBatchBytes: 1 << 20, ...options };
    this.#file = file;
    this.#index = index;
    this.#size = size;
    this.#seq = head.seq;
    this.#head = head.hash;
  }

  /** Opens for appending after `head`, in `last` (the newest file, already free of any torn tail). */
  static async open(options: WriterOptions, head: ChainHead, last: Segment | null): Promise<LedgerWriter> {
    await mkdir(options.dir, { recursive: true });
    const index = last?.index ?? 1;
    const file = await open(join(options.dir, segmentName(index)), 'a');
    const { size } = await file.stat();
    if (!last) await syncDir(options.dir);
    return new LedgerWriter(options, file, index, size, head);
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
    const { entry, line } = sealEntry(body, this.#seq + 1, this.#head);
    this.#seq = entry.seq;
    this.#head = entry.hash;
    const batch = this.#batch;
    if (batch.lines.length === 0) batch.firstAt = performance.now();
    const size = Buffer.byteLength(line);
    batch.lines.push(line);
    batch.sizes.push(size);
    batch.bytes += size;
    if (this.#failure) batch.reject(this.#failure);
    else this.#schedule();
    return { entry, acked: batch.done };
  }

  /** Resolves once everything appended so far is on disk. */
  flush(): Promise<void> {
    if (this.#failure) return Promise.reject(this.#failure);
    if (this.#batch.lines.length === 0) return this.#committing ? this.#lastCommit : Promise.resolve();
    const done = this.#batch.done;
    if (this.#timer) {
      clearTimeout(this.#timer);
      this.#timer = null;
    }
    void this.#commit();
    return done;
  }

  async close(): Promise<void> {
    await this.flush().catch(() => {});
    while (this.#committing) await this.#lastCommit.catch(() => {});
    this.#closed = true;
    await this.#file.close();
  }

  #schedule(): void {
    if (this.#committing) return;
    if (this.#batch.bytes >= this.#options.maxBatchBytes) void this.#commit();
    else this.#timer ??= setTimeout(() => void this.#commit(), this.#options.commitWindowMs);
  }

  async #commit(): Promise<void> {
    if (this.#timer) {
      clearTimeout(this.#timer);
      this.#timer = null;
    }
    if (this.#committing || this.#batch.lines.length === 0) return;
    this.#committing = true;
    const batch = this.#batch;
    this.#batch = newBatch();
    this.#lastCommit = batch.done;
    try {
      await this.#write(batch);
      this.#options.onCommit?.({ entries: batch.lines.length, bytes: batch.bytes, seconds: (performance.now() - batch.firstAt) / 1000 });
      batch.resolve();
    } catch (err) {
      this.#failure = err instanceof Error ? err : new Error(String(err));
      batch.reject(this.#failure);
      this.#options.onFailure?.(this.#failure);
    } finally {
      this.#committing = false;
    }
    if (this.#batch.lines.length === 0) return;
    // Whatever arrived during this commit has already waited one fsync: write it now.
    if (this.#failure) this.#batch.reject(this.#failure);
    else void this.#commit();
  }

  /** Writes the batch (in bounded chunks, rotating where a file fills up), then fsyncs it. */
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
    await this.#file.datasync();
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

  /** The chain goes on in the next file: its first entry's prev_hash is this file's last hash. */
  async #rotate(): Promise<void> {
    await this.#file.datasync();
    await this.#file.close();
    this.#index++;
    const name = segmentName(this.#index);
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
  // Callers that do not wait for the ack (the request path) must not turn a failure into an
  // unhandled rejection; the failure is reported by the ledger itself.
  done.catch(() => {});
  return { lines: [], sizes: [], bytes: 0, firstAt: 0, done, resolve, reject };
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
