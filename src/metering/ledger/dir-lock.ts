/**
 * One writer per ledger directory. Two processes appending to one hash chain (a shared volume, a
 * mistaken second Deployment) corrupt it, so the writer holds `<dir>/LOCK`: created exclusively,
 * holding its pid, host, instance id and start time, and touched every few seconds while held.
 *
 * A lock left by a holder that is gone is taken over: on the same host when its pid is not alive
 * (or is our own pid: a container restarted as pid 1 again), on another host (a shared volume)
 * when it was not touched for `staleMs`. A live holder's lock is never taken: the second process
 * refuses to start and names the holder.
 */
import { hostname } from 'node:os';
import { closeSync, openSync, readFileSync, renameSync, statSync, unlinkSync, utimesSync, writeSync } from 'node:fs';
import { join } from 'node:path';

export interface LockHolder {
  pid: number;
  host: string;
  instance: string;
  since: string;
}

export class LedgerLockedError extends Error {
  readonly holder: LockHolder | null;

  constructor(dir: string, holder: LockHolder | null) {
    super(
      holder
        ? `the ledger in ${dir} is in use by pid ${holder.pid} on ${holder.host} (instance ${holder.instance}) since ${holder.since}; one process writes a ledger directory: give each replica its own (or stop the other process)`
        : `the ledger in ${dir} is locked (${join(dir, 'LOCK')} cannot be read); remove it only if no other process writes this directory`,
    );
    this.name = 'LedgerLockedError';
    this.holder = holder;
  }
}

export interface DirLockOptions {
  instance: string;
  /** A lock from another host untouched for this long is taken over. */
  staleMs?: number;
  heartbeatMs?: number;
}

export class DirLock {
  readonly #path: string;
  readonly #timer: NodeJS.Timeout;

  private constructor(path: string, heartbeatMs: number) {
    this.#path = path;
    this.#timer = setInterval(() => {
      const now = new Date();
      try {
        utimesSync(path, now, now);
      } catch {
        // The volume is gone or read-only: the ledger's own writes report that.
      }
    }, heartbeatMs);
    this.#timer.unref();
  }

  static acquire(dir: string, options: DirLockOptions): DirLock {
    const path = join(dir, 'LOCK');
    const heartbeatMs = options.heartbeatMs ?? 5_000;
    const me: LockHolder = { pid: process.pid, host: hostname(), instance: options.instance, since: new Date().toISOString() };
    for (let attempt = 0; attempt < 2; attempt++) {
      if (tryCreate(path, me)) return new DirLock(path, heartbeatMs);
      const holder = readHolder(path);
      if (holder === undefined) continue; // released between our try and the read
      if (holder === null || !isStale(path, holder, options.staleMs ?? heartbeatMs * 6)) throw new LedgerLockedError(dir, holder);
      // Set the stale lock aside; if what we moved is not the stale one (another process took it
      // over first), put it back and refuse.
      const aside = `${path}.stale-${process.pid}`;
      try {
        renameSync(path, aside);
      } catch {
        continue;
      }
      const moved = readHolder(aside);
      if (moved && sameHolder(moved, holder)) unlinkSync(aside);
      else {
        renameSync(aside, path);
        throw new LedgerLockedError(dir, moved ?? null);
      }
    }
    throw new LedgerLockedError(dir, readHolder(path) ?? null);
  }

  release(): void {
    clearInterval(this.#timer);
    try {
      const holder = readHolder(this.#path);
      if (holder && holder.pid === process.pid && holder.host === hostname()) unlinkSync(this.#path);
    } catch {
      // Nothing to release.
    }
  }
}

function tryCreate(path: string, me: LockHolder): boolean {
  let fd: number;
  try {
    fd = openSync(path, 'wx', 0o644);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  }
  try {
    writeSync(fd, `${JSON.stringify(me)}\n`);
  } finally {
    closeSync(fd);
  }
  return true;
}

/** The holder; null when the file cannot be understood; undefined when it is not there. */
function readHolder(path: string): LockHolder | null | undefined {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    return null;
  }
  try {
    const h = JSON.parse(text) as LockHolder;
    return Number.isInteger(h.pid) && typeof h.host === 'string' ? h : null;
  } catch {
    // A holder that died between creating the file and writing it: empty or torn.
    return text.trim() === '' ? { pid: -1, host: hostname(), instance: 'unknown', since: 'unknown' } : null;
  }
}

function isStale(path: string, holder: LockHolder, staleMs: number): boolean {
  if (holder.host === hostname()) return holder.pid === process.pid || holder.pid <= 0 || !alive(holder.pid);
  try {
    return Date.now() - statSync(path).mtimeMs > staleMs;
  } catch {
    return false;
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function sameHolder(a: LockHolder, b: LockHolder): boolean {
  return a.pid === b.pid && a.host === b.host && a.since === b.since;
}
