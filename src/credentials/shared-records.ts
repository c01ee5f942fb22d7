/**
 * Org credentials shared by every replica (`state: redis`): the stored records (secrets sealed with
 * credential_store.key, which every replica shares; never in clear) live in one Redis hash, and a
 * version counter moves with every change. Each replica polls the version and, when it moved,
 * reads the records again and swaps them into its runtime: a credential created or rotated on one
 * replica is used by all of them within a poll interval.
 */
import type { Redis } from 'ioredis';
import type { StoredCredential } from './vault.ts';

export interface RecordChange {
  set: StoredCredential[];
  delete: string[];
}

export class SharedCredentialRecords {
  readonly #client: Redis;
  readonly #records: string;
  readonly #version: string;
  #seen: string | null = null;
  #timer: NodeJS.Timeout | null = null;

  constructor(client: Redis, prefix: string) {
    this.#client = client;
    // One hash tag: the records and their version change in one MULTI, also on Redis Cluster.
    this.#records = `${prefix}:{credentials}:records`;
    this.#version = `${prefix}:{credentials}:version`;
  }

  async read(): Promise<StoredCredential[]> {
    const [version, all] = (await this.#client.multi().get(this.#version).hgetall(this.#records).exec())!.map(([err, value]) => {
      if (err) throw err;
      return value;
    }) as [string | null, Record<string, string>];
    this.#seen = version;
    return Object.values(all).map((json) => JSON.parse(json) as StoredCredential);
  }

  /** Applies one change (the records it touches only: concurrent changes of other records survive). */
  async write(change: RecordChange): Promise<void> {
    const multi = this.#client.multi();
    for (const record of change.set) multi.hset(this.#records, record.id, JSON.stringify(record));
    if (change.delete.length > 0) multi.hdel(this.#records, ...change.delete);
    multi.incr(this.#version);
    const results = (await multi.exec())!;
    for (const [err] of results) if (err) throw err;
    // Our own change is already in this replica's runtime: no need to read it back.
    this.#seen = String(results.at(-1)![1]);
  }

  /** Calls `onChange` with every record whenever another replica changed them. */
  watch(onChange: (records: StoredCredential[]) => void, intervalMs = 250): void {
    const poll = async () => {
      try {
        const version = await this.#client.get(this.#version);
        if (version !== this.#seen) onChange(await this.read());
      } catch {
        // Redis unreachable: the runtime keeps the credentials it has; the next poll tries again.
      }
      if (this.#timer !== null) this.#timer = setTimeout(poll, intervalMs).unref();
    };
    this.#timer = setTimeout(poll, intervalMs).unref();
  }

  close(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
  }
}
