/**
 * The plain usage log: one JSON line per exchange, appended to <ledger dir>/usage.jsonl. Writes are
 * batched per event-loop turn so the request path never waits on the disk.
 */
import { mkdirSync } from 'node:fs';
import { appendFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { UsageRecord, UsageRecorder } from './record.ts';

export class UsageLog implements UsageRecorder {
  readonly path: string;
  #pending: string[] = [];
  #writing: Promise<void> = Promise.resolve();
  #scheduled = false;

  constructor(dir: string) {
    mkdirSync(dir, { recursive: true });
    this.path = join(dir, 'usage.jsonl');
  }

  record(entry: UsageRecord): void {
    this.#pending.push(JSON.stringify(entry) + '\n');
    if (!this.#scheduled) {
      this.#scheduled = true;
      setImmediate(() => void this.flush());
    }
  }

  flush(): Promise<void> {
    this.#scheduled = false;
    if (this.#pending.length > 0) {
      const batch = this.#pending.join('');
      this.#pending = [];
      this.#writing = this.#writing.then(() => appendFile(this.path, batch));
    }
    return this.#writing;
  }

  close(): Promise<void> {
    return this.flush();
  }
}
