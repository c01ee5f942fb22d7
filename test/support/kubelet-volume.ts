/**
 * A directory updated exactly the way the kubelet updates a mounted Secret or ConfigMap (its
 * AtomicWriter): the files go into a new `..<timestamp>` directory, a `..data_tmp` symlink to it is
 * renamed over `..data`, each visible name is a symlink `name -> ..data/name`, and the previous
 * timestamped directory is removed. The paths the app reads never change; their targets do.
 */
import { existsSync, mkdirSync, readlinkSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

let generation = 0;

export class KubeletVolume {
  readonly dir: string;

  constructor(dir: string, files: Record<string, string>) {
    this.dir = dir;
    mkdirSync(dir, { recursive: true });
    this.update(files);
  }

  path(name: string): string {
    return join(this.dir, name);
  }

  /** Publishes a new version of the volume's files (names may contain `/`, as ConfigMap item paths do). */
  update(files: Record<string, string>): void {
    const stamp = new Date().toISOString().replace(/[-:]/g, '_').replace('T', '_').replace('Z', '');
    const version = `..${stamp}.${process.pid}${String(++generation).padStart(4, '0')}`;
    for (const [name, content] of Object.entries(files)) {
      const file = join(this.dir, version, name);
      mkdirSync(dirname(file), { recursive: true });
      writeFileSync(file, content);
    }
    const data = join(this.dir, '..data');
    const previous = existsSync(data) ? readlinkSync(data) : null;
    const temp = join(this.dir, '..data_tmp');
    symlinkSync(version, temp);
    renameSync(temp, data);
    for (const top of new Set(Object.keys(files).map((n) => n.split('/')[0]!))) {
      if (!existsSync(join(this.dir, top))) symlinkSync(join('..data', top), join(this.dir, top));
    }
    if (previous !== null) rmSync(join(this.dir, previous), { recursive: true, force: true });
  }
}
