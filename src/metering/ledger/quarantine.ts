/**
 * A torn tail (bytes after the newest file's last newline: a write cut by a crash, never
 * acknowledged) is copied to `<dir>/quarantine/<file>.<offset>.torn` and made durable first; only
 * then is the ledger file cut back to its last complete line. Nothing is dropped: the bytes stay
 * readable in the quarantine file, and a crash between the two steps just repeats them.
 */
import { mkdir, open, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { TornTail } from './chain.ts';
import { QUARANTINE_DIR } from './segments.ts';
import { syncDir } from './writer.ts';

export interface TornReport {
  file: string;
  line: number;
  offset: number;
  bytes: number;
  quarantinedTo: string;
}

export async function quarantineTornTail(dir: string, torn: TornTail): Promise<TornReport> {
  const qdir = join(dir, QUARANTINE_DIR);
  await mkdir(qdir, { recursive: true });
  const target = join(qdir, `${torn.segment.name}.${torn.offset}.torn`);
  await writeFile(target, torn.bytes, { flush: true });
  await syncDir(qdir);
  const file = await open(torn.segment.path, 'r+');
  try {
    await file.truncate(torn.offset);
    await file.sync();
  } finally {
    await file.close();
  }
  return { file: torn.file, line: torn.line, offset: torn.offset, bytes: torn.bytes.length, quarantinedTo: target };
}
