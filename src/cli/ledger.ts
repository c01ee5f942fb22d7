/**
 * `tollbooth ledger verify|summary|repair`: tools over the ledger files (read as streams).
 *   verify   checks every line's hash, seq and prev_hash across files, and that every checkpoint
 *            equals the replay of the entries before it; exit 0 when intact, 1 with the file:line
 *            of each edited, deleted or reordered entry or disagreeing checkpoint.
 *   summary  balances per org and totals grouped by org, model, provider or day; exact credits;
 *            with --archived, the files retention archived are read too (streamed from their .gz).
 *   repair   sets a damaged tail aside (readable, under set-aside/) and continues the chain with
 *            an entry recording it; with the gateway stopped.
 * The directory is --dir, else the `ledger.dir` of --config (or the default config).
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { TollboothConfig } from '../config/types.ts';
import { archiveDirOf, archiveSegments, walkArchive, type ArchiveWalk, type RetentionPolicy } from '../metering/ledger/archive.ts';
import { describeProblem, walkChain, type ChainProblem, type ChainWalk, type Position } from '../metering/ledger/chain.ts';
import type { LedgerEntry } from '../metering/ledger/entry.ts';
import { currentState, Replay, stateDifference } from '../metering/ledger/checkpoint.ts';
import { walkHistory } from '../metering/ledger/history.ts';
import { listSegments, QUARANTINE_DIR, readArchiveManifest, SET_ASIDE_DIR } from '../metering/ledger/segments.ts';
import { summarize, type GroupBy, type LedgerSummary } from '../metering/ledger/summary.ts';

export const LEDGER_USAGE = `usage: tollbooth ledger verify [--dir DIR | --config FILE]
       tollbooth ledger repair [--dir DIR | --config FILE]
       tollbooth ledger archive [--dir DIR | --config FILE] [--to ARCHIVE_DIR] [--keep-days N] [--keep-bytes N] [--command CMD]
       tollbooth ledger summary [--dir DIR | --config FILE] [--by org|model|provider|day] [--archived] [--json]
       tollbooth ledger rebill [--dir DIR | --config FILE] [--catalog CATALOG_DIR] [--json]
       tollbooth ledger collect [--config FILE] [--dir DIR] [--once]
       tollbooth ledger reconcile [--config FILE] [--dir DIR] [--repair]
`;

type Out = { out: (s: string) => void; err: (s: string) => void };
const STDIO: Out = { out: (s) => process.stdout.write(s), err: (s) => process.stderr.write(s) };

export async function runLedgerCommand(args: string[], defaultConfig: string, io: Out = STDIO): Promise<number> {
  const [sub, ...rest] = args;
  const { values } = parseArgs({
    args: rest,
    options: {
      dir: { type: 'string' },
      config: { type: 'string' },
      by: { type: 'string', default: 'org' },
      json: { type: 'boolean', default: false },
      once: { type: 'boolean', default: false },
      repair: { type: 'boolean', default: false },
      archived: { type: 'boolean', default: false },
      to: { type: 'string' },
      'keep-days': { type: 'string' },
      'keep-bytes': { type: 'string' },
      command: { type: 'string' },
      catalog: { type: 'string' },
    },
  });
  if (sub === 'collect' || sub === 'reconcile') {
    const config = await loadConfig(values.config ?? defaultConfig);
    const dir = values.dir ?? config.ledger.dir;
    return import('./shared-ledger.ts').then((shared) =>
      sub === 'collect' ? shared.collect(config, dir, values.once!, io) : shared.reconcileCommand(config, dir, values.repair!, io),
    );
  }
  if (sub === 'archive') {
    const ledger = values.dir === undefined || values.to === undefined ? (await loadConfig(values.config ?? defaultConfig)).ledger : null;
    const dir = values.dir ?? ledger!.dir;
    const retention = ledger?.retention;
    const archiveDir = values.to ?? retention?.archive_dir ?? null;
    if (archiveDir === null) {
      io.err(`ledger archive: no archive directory (--to, or ledger.retention.archive_dir)\n${LEDGER_USAGE}`);
      return 2;
    }
    const number = (v: string | undefined) => (v === undefined ? undefined : Number(v));
    return archive(dir, {
      archiveDir,
      keepDays: number(values['keep-days']) ?? retention?.keep_days ?? null,
      keepBytes: number(values['keep-bytes']) ?? retention?.keep_bytes ?? null,
      command: values.command ?? retention?.archive_command ?? null,
    }, io);
  }
  const dir = values.dir ?? (await loadConfig(values.config ?? defaultConfig)).ledger.dir;
  if (sub === 'verify') return verify(dir, io);
  if (sub === 'repair') return repair(dir, io);
  if (sub === 'rebill') return import('./rebill.ts').then(({ rebillCommand }) => rebillCommand(dir, values.catalog, values.json!, io));
  if (sub === 'summary') {
    if (!['org', 'model', 'provider', 'day'].includes(values.by!)) {
      io.err(`--by must be org, model, provider or day\n${LEDGER_USAGE}`);
      return 2;
    }
    return summarize(dir, values.by as GroupBy, { archived: values.archived! }).then((summary) => {
      if (summary.problems.length > 0) io.err(`warning: the ledger fails verification (${summary.problems.length} problem(s)); run \`tollbooth ledger verify\`\n`);
      if (summary.archived_not_read > 0) {
        io.err(
          `note: ${summary.archived_not_read} archived file(s) not read${values.archived ? ' (not readable here)' : ' (add --archived to read them)'}: ` +
            `totals cover seq ${summary.first_seq} on; wallets are exact (from the checkpoint after them)\n`,
        );
      }
      io.out(values.json ? `${JSON.stringify(summary, null, 2)}\n` : formatSummary(summary, values.by as GroupBy));
      return 0;
    });
  }
  io.err(LEDGER_USAGE);
  return 2;
}

/**
 * The config, loaded only when --dir does not name the directory: loading it (catalog, schemas)
 * made a streamed read of a large ledger twice as slow and its heap three times as large.
 */
async function loadConfig(file: string): Promise<TollboothConfig> {
  const { loadConfig: load } = await import('../config/load.ts');
  return load(file).config;
}

async function verify(dir: string, io: Out): Promise<number> {
  const replay = { current: new Replay(), trustNext: false };
  const checkpoints: ChainProblem[] = [];
  let compared = 0;
  const visit = (entry: LedgerEntry, at: Position) => {
    if (entry.type === 'checkpoint') {
      if (replay.trustNext) {
        // Archived files not readable here: the replay starts over from the first checkpoint after them.
        replay.current = Replay.fromState(entry.checkpoint);
        replay.trustNext = false;
        return;
      }
      compared++;
      // A checkpoint written with whole grant entries is compared as the ids it holds.
      const difference = stateDifference(replay.current.state(), currentState(entry.checkpoint));
      if (difference !== null) checkpoints.push({ ...at, message: `checkpoint seq ${entry.seq} does not equal the replay of the entries before it: ${difference}` });
    }
    replay.current.apply(entry);
  };
  const walk = await walkHistory(dir, visit, {
    afterArchive: (archive) => {
      if (archive.unreadable.length > 0) replay.trustNext = true;
    },
  });
  return report(dir, io, { ...walk, problems: [...walk.problems, ...checkpoints], compared });
}

function report(
  dir: string,
  io: Out,
  r: { problems: ChainProblem[]; entries: number; files: number; torn: ChainWalk['torn']; head: ChainWalk['head']; compared: number; archive: ArchiveWalk | null },
): number {
  r.problems.sort((a, b) => (a.file === b.file ? a.line - b.line : 0));
  for (const p of r.problems) io.out(`${describeProblem(p)}\n`);
  if (r.torn) {
    io.out(
      `note: ${r.torn.file}:${r.torn.line}: ${r.torn.bytes.length} bytes of a torn last line (a write cut by a crash, never acknowledged); the next start sets them aside in ${QUARANTINE_DIR}/\n`,
    );
  }
  const quarantined = listQuarantine(dir);
  if (quarantined.length > 0) io.out(`note: ${quarantined.length} torn tail(s) set aside in ${join(dir, QUARANTINE_DIR)}: ${quarantined.join(', ')}\n`);
  const repaired = listDir(join(dir, SET_ASIDE_DIR));
  if (repaired.length > 0) io.out(`note: ${repaired.length} damaged tail(s) set aside by \`ledger repair\` in ${join(dir, SET_ASIDE_DIR)}: ${repaired.join(', ')}\n`);
  if (r.archive) {
    io.out(`note: ${r.archive.checked} archived file(s) checked`);
    if (r.archive.unreadable.length > 0) io.out(`; ${r.archive.unreadable.length} not readable here (${r.archive.unreadable.join(', ')}): the chain is checked from their recorded link`);
    io.out('\n');
  }
  const files = `${r.files} file(s)${r.archive ? ` and ${r.archive.checked} archived` : ''}`;
  if (r.problems.length > 0) {
    io.out(`FAILED: ${r.problems.length} problem(s) in ${r.entries} entries (${files}) in ${dir}\n`);
    return 1;
  }
  io.out(`ok: ${r.entries} entries in ${files}, chain intact, ${r.compared} checkpoint(s) equal to the replay; head seq ${r.head.seq} hash ${r.head.hash}\n`);
  return 0;
}

async function archive(dir: string, policy: RetentionPolicy, io: Out): Promise<number> {
  const archived = await archiveSegments(dir, policy);
  for (const a of archived) io.out(`archived: ${a.name} (seq ${a.first_seq}-${a.last_seq}, ${a.lines} line(s), sha256 ${a.sha256}) -> ${archiveDirOf(dir, policy)}/${a.name}.gz\n`);
  io.out(`${archived.length} file(s) archived; the chain goes on from ${archived.at(-1)?.last_hash ?? 'where it was'}\n`);
  return 0;
}

async function repair(dir: string, io: Out): Promise<number> {
  const { repairLedger } = await import('../metering/ledger/repair.ts');
  const result = await repairLedger(dir);
  if (result.entry === null) {
    io.out(`ok: the chain in ${dir} is intact; nothing to repair\n`);
    return 0;
  }
  const e = result.entry;
  io.out(`first problem: ${e.problem}\n`);
  for (const f of e.set_aside) io.out(`set aside: ${f.from} from line ${f.from_line}: ${f.lines} line(s), ${f.bytes} bytes -> ${join(dir, f.file)} (sha256 ${f.sha256})\n`);
  io.out(`repaired: ${e.count} line(s) from seq ${e.first_bad_seq} on set aside in ${result.setAsideDir}; the chain goes on with repair entry seq ${e.seq}. Balances no longer include what was set aside: review it.\n`);
  return 0;
}

function listQuarantine(dir: string): string[] {
  return listDir(join(dir, QUARANTINE_DIR));
}

function listDir(path: string): string[] {
  try {
    return readdirSync(path).sort();
  } catch {
    return [];
  }
}

function formatSummary(s: LedgerSummary, by: GroupBy): string {
  const archived = s.archived_files === null ? '' : ` and ${s.archived_files} archived`;
  const lines = [`${s.entries} entries in ${s.files} file(s)${archived}; head seq ${s.head.seq} hash ${s.head.hash}`, ''];
  lines.push(...table(['org', 'granted', 'charged', 'from allowance', 'from wallet', 'wallet'], s.wallets.map((w) => [w.org, w.granted, w.charged, w.from_allowance, w.from_wallet, w.wallet])));
  lines.push('');
  lines.push(
    ...table(
      [by, 'requests', 'byok', 'prompt tokens', 'completion tokens', 'credits'],
      s.groups.map((g) => [g.key, String(g.requests), String(g.byok_requests), String(g.prompt_tokens), String(g.completion_tokens), g.credits]),
    ),
  );
  const classes = Object.entries(s.credits_by_class);
  if (classes.length > 0) {
    lines.push('', ...table(['credits by class', 'credits'], classes.map(([line, credits]) => [line, credits])));
  }
  lines.push('', `total credits charged: ${s.total_credits}`);
  return `${lines.join('\n')}\n`;
}

function table(header: string[], rows: string[][]): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ').trimEnd();
  return [line(header), ...rows.map(line)];
}
