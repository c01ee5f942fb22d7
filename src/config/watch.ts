/**
 * Watches files the way Kubernetes updates a mounted ConfigMap or Secret: the kubelet writes a new
 * timestamped directory, points a `..data_tmp` symlink at it and renames that over `..data`, so the
 * file's path stays while its target changes. fs.watch on each file's directory is the fast hint and
 * a periodic stat the fallback (events get lost on some volumes, and a watched directory that was a
 * symlink's target disappears with the swap); either one leads to a debounced comparison of the
 * files' signatures, and `onChange` runs only when one changed.
 */
import { readdirSync, realpathSync, statSync, watch, type FSWatcher } from 'node:fs';
import { dirname } from 'node:path';

export interface WatchOptions {
  debounceMs: number;
  pollMs: number;
  /** fs.watch hints on the directories (default true); the poll alone also works, only slower. */
  fsEvents?: boolean;
}

export interface WatchTargets {
  /** Files whose content matters (through symlinks). */
  files: readonly string[];
  /** Directories whose list of entries matters too (e.g. the catalog's models/). */
  dirs?: readonly string[];
}

export class FileWatch {
  readonly #onChange: () => void;
  readonly #options: WatchOptions;
  readonly #watchers = new Map<string, FSWatcher>();
  #targets: WatchTargets = { files: [] };
  #baseline = '';
  #debounce: NodeJS.Timeout | undefined;
  readonly #poll: NodeJS.Timeout;
  #closed = false;

  constructor(targets: WatchTargets, onChange: () => void, options: WatchOptions) {
    this.#onChange = onChange;
    this.#options = options;
    this.setTargets(targets);
    this.#poll = setInterval(() => {
      this.#arm();
      this.#check();
    }, options.pollMs);
    this.#poll.unref();
  }

  /**
   * Watches another set of files from now on; their current state is the new baseline. Directory
   * watches start afresh: one opened through a symlink (catalog/ inside a ConfigMap) still watches
   * the timestamped directory the kubelet has since removed.
   */
  setTargets(targets: WatchTargets): void {
    this.#targets = targets;
    this.#baseline = this.#signature();
    for (const watcher of this.#watchers.values()) watcher.close();
    this.#watchers.clear();
    this.#arm();
  }

  /** Compares the signatures now (what a debounced event leads to). */
  checkNow(): void {
    this.#check();
  }

  close(): void {
    this.#closed = true;
    clearInterval(this.#poll);
    clearTimeout(this.#debounce);
    for (const watcher of this.#watchers.values()) watcher.close();
    this.#watchers.clear();
  }

  #directories(): Set<string> {
    return new Set([...this.#targets.files.map((f) => dirname(f)), ...(this.#targets.dirs ?? [])]);
  }

  /** Starts an fs.watch on every directory that has none (first time, or after one failed). */
  #arm(): void {
    if (this.#closed || this.#options.fsEvents === false) return;
    for (const dir of this.#directories()) {
      if (this.#watchers.has(dir)) continue;
      try {
        const watcher = watch(dir, { persistent: false }, () => this.#schedule());
        watcher.on('error', () => {
          watcher.close();
          if (this.#watchers.get(dir) === watcher) this.#watchers.delete(dir);
          this.#schedule();
        });
        this.#watchers.set(dir, watcher);
      } catch {
        // Missing for now: the poll keeps trying.
      }
    }
  }

  #schedule(): void {
    if (this.#closed) return;
    clearTimeout(this.#debounce);
    this.#debounce = setTimeout(() => this.#check(), this.#options.debounceMs);
    this.#debounce.unref();
  }

  #check(): void {
    if (this.#closed) return;
    const signature = this.#signature();
    if (signature === this.#baseline) return;
    this.#baseline = signature;
    this.#onChange();
  }

  #signature(): string {
    const files = this.#targets.files.map((f) => fileSignature(f) ?? `${f}:missing`);
    const dirs = (this.#targets.dirs ?? []).map((d) => `${d}:${listing(d)}`);
    return [...files, ...dirs].join('\n');
  }
}

/**
 * What identifies a file's current content without reading it: the resolved path (the kubelet
 * points `..data` at a new timestamped directory), inode, size and mtime. null when missing.
 */
export function fileSignature(path: string): string | null {
  try {
    const real = realpathSync(path);
    const st = statSync(real);
    return `${real}:${st.ino}:${st.size}:${st.mtimeMs}`;
  } catch {
    return null;
  }
}

/** A directory's entries, without the kubelet's own `..data`/`..<timestamp>` bookkeeping. */
function listing(dir: string): string {
  try {
    return readdirSync(dir)
      .filter((name) => !name.startsWith('..'))
      .sort()
      .join('/');
  } catch {
    return 'missing';
  }
}
