/**
 * The whole history of a ledger directory, read as one stream: the archived files first (when
 * asked for, and readable here), then the ledger files, the chain checked across the boundary.
 * What `ledger verify`, `ledger summary --archived` and `ledger reconcile --repair` read.
 */
import { walkArchive, type ArchiveWalk } from './archive.ts';
import { walkChain, type ChainHead, type ChainProblem, type ChainWalk, type Position } from './chain.ts';
import type { LedgerEntry } from './entry.ts';
import { listSegments, readArchiveManifest } from './segments.ts';

export interface HistoryWalk {
  problems: ChainProblem[];
  /** Entries visited, archived ones included. */
  entries: number;
  /** Ledger files walked (archived ones are counted in `archive`). */
  files: number;
  head: ChainHead;
  torn: ChainWalk['torn'];
  /** The archived files' walk; null when none were archived or they were not asked for. */
  archive: ArchiveWalk | null;
  /** Archived files exist that were not read (not asked for, or not readable here). */
  gap: boolean;
}

export interface HistoryOptions {
  /** Read the archived files too (default true). */
  archived?: boolean;
  /** After the archived files, before the ledger files. */
  afterArchive?(archive: ArchiveWalk): void;
}

export async function walkHistory(dir: string, visit: (entry: LedgerEntry, at: Position) => void, options: HistoryOptions = {}): Promise<HistoryWalk> {
  const manifest = readArchiveManifest(dir);
  const archive = manifest !== null && options.archived !== false ? await walkArchive(dir, visit) : null;
  if (archive) options.afterArchive?.(archive);
  const from = archive ? { segment: 0, offset: 0, line: 1, seq: archive.check.expectedSeq, prevHash: archive.check.prevHash ?? '' } : null;
  // A file both archived and still here (a crash before its removal) is walked once, from the archive.
  const archivedNames = new Set(manifest?.segments.map((a) => a.name) ?? []);
  const walk = walkChain(dir, visit, from, archive ? listSegments(dir).filter((s) => !archivedNames.has(s.name)) : undefined);
  return {
    problems: [...(archive?.check.problems ?? []), ...walk.problems],
    entries: walk.entries + (archive?.check.entries ?? 0),
    files: walk.segments.length,
    head: walk.entries > 0 ? walk.head : (archive?.check.head ?? walk.head),
    torn: walk.torn,
    archive,
    gap: manifest !== null && manifest.segments.length > 0 && (archive === null || archive.unreadable.length > 0),
  };
}
