/**
 * The ledger: an append-only, hash-chained JSON-lines record of every charge and wallet grant, and
 * the balances that are its replay. It is the gateway's UsageRecorder: every metered exchange
 * becomes one charge entry, paid from the org's period allowance first, then its wallet.
 *
 * On open: the last checkpoint is found, the chain from it to the end is checked (a broken chain
 * refuses to open, naming the file and line and `tollbooth ledger repair`), a torn last line is
 * quarantined and reported, balances are rebuilt from the checkpoint and the entries after it,
 * and appending resumes after the last good entry. A checkpoint (the replay so far, see
 * checkpoint.ts) is appended every `checkpointEvery` entries or `checkpointIntervalMs`, after a
 * rotation and at close, always from a timer or an immediate: never inside a request's append.
 */
import { mkdir } from 'node:fs/promises';
import type { OrgConfig } from '../../config/types.ts';
import type { Metrics } from '../../metrics/registry.ts';
import type { Logger } from '../../util/log.ts';
import { formatCredits, parseCredits } from '../credits.ts';
import type { UsageRecord, UsageRecorder } from '../record.ts';
import { Accounts, type Allowance, type OrgBalance, type Split } from './accounts.ts';
import { describeProblem, type ChainProblem } from './chain.ts';
import { loadLedger, Replay } from './checkpoint.ts';
import { findGrant, RecentGrants } from './grants.ts';
import type { ChargeEntry, GrantEntry, RepairEntry } from './entry.ts';

/** What a charge entry carries besides the record and its split (shared state, review flags). */
export type ChargeExtras = Pick<ChargeEntry, 'instance' | 'settle_id' | 'stream_id' | 'unsettled' | 'over_hold'>;
import { quarantineTornTail, type TornReport } from './quarantine.ts';
import { LedgerWriter, type Appended } from './writer.ts';
import { DirLock } from './dir-lock.ts';
import { archiveSegments, type RetentionPolicy } from './archive.ts';
import type { LineFormat } from './compact.ts';
import type { TollboothConfig } from '../../config/types.ts';

/** What the config's `ledger:` section sets, as Ledger options. */
export function ledgerSettings(c: TollboothConfig['ledger']): Pick<LedgerOptions, 'dir' | 'maxFileBytes' | 'commitWindowMs' | 'syncIntervalMs' | 'checkpointEvery' | 'checkpointIntervalMs' | 'format' | 'retention'> {
  const r = c.retention;
  return {
    dir: c.dir,
    maxFileBytes: c.max_file_bytes,
    commitWindowMs: c.commit_window_ms,
    syncIntervalMs: c.sync_interval_ms,
    checkpointEvery: c.checkpoint_every_entries,
    checkpointIntervalMs: c.checkpoint_interval_s * 1000,
    format: c.format,
    retention: r.archive_dir === null ? null : { archiveDir: r.archive_dir, keepDays: r.keep_days, keepBytes: r.keep_bytes, command: r.archive_command },
  };
}

export interface LedgerOptions {
  dir: string;
  /** Names this writer in the directory's lock (and, with shared state, in the charge stream). */
  instance?: string;
  maxFileBytes?: number;
  commitWindowMs?: number;
  /** Longest a written entry waits for the fdatasync that makes it durable (default 20 ms). */
  syncIntervalMs?: number;
  /** The allowance the org's plan grants now (null: none), for splitting a charge. */
  allowanceOf?: (org: string) => Allowance | null;
  /** A checkpoint after this many entries (default 10,000; 0: only at rotation and close). */
  checkpointEvery?: number;
  /** A checkpoint this often when entries were appended since the last (default 300 s; 0: never by time). */
  checkpointIntervalMs?: number;
  /** Line format of new files: 1 (JSON with full keys) or 2 (compact, see compact.ts); default 2. A newest file in the other format is closed: the next one starts in this. */
  format?: LineFormat;
  /** Archive closed files after each rotation's checkpoint is durable (see archive.ts); none: keep everything. */
  retention?: RetentionPolicy | null;
  metrics?: Metrics;
  log?: Logger;
}

export interface GrantRequest {
  org: string;
  pico: bigint;
  kind: GrantEntry['kind'];
  grantId: string;
  source: GrantEntry['source'];
  by: string | null;
  note: string;
}

export class LedgerCorruptError extends Error {
  readonly problems: ChainProblem[];

  constructor(dir: string, problems: ChainProblem[]) {
    super(
      `the ledger in ${dir} fails verification (${problems.length} problem(s)); refusing to append to a broken chain. ` +
        `First: ${describeProblem(problems[0]!)}. Run \`tollbooth ledger verify --dir ${dir}\` to list the problems, then ` +
        `\`tollbooth ledger repair --dir ${dir}\` (with the gateway stopped) to set the damaged tail aside, readable, and continue the chain.`,
    );
    this.name = 'LedgerCorruptError';
    this.problems = problems;
  }
}

export class Ledger implements UsageRecorder {
  readonly dir: string;
  readonly accounts: Accounts;
  /** What was set aside at open, if a crash had torn the last line. */
  readonly torn: TornReport | null;
  readonly #writer: LedgerWriter;
  readonly #allowanceOf: (org: string) => Allowance | null;
  /** What a replay of the chain so far builds (what a checkpoint records), kept as entries are appended. */
  readonly #replay: Replay;
  /** Grant entries this process appended (a retried request answers with the recorded entry); older ones are read from the files. */
  readonly #recentGrants = new RecentGrants();
  readonly #log: Logger | undefined;
  readonly #lock: DirLock;
  readonly #checkpointEvery: number;
  #sinceCheckpoint = 0;
  #checkpointSoon: NodeJS.Immediate | null = null;
  readonly #checkpointTimer: NodeJS.Timeout | null;
  #closed = false;
  readonly #retention: RetentionPolicy | null;
  /** The archive step running now (one at a time). */
  #archiving: Promise<void> = Promise.resolve();
  /** Charges this process wrote while the shared store was unreachable (settled again at start). */
  unsettled: ChargeEntry[] = [];
  /** In a consolidated ledger: per org, the last shared-stream entry collected (entries are in stream order). */
  lastStreamIds = new Map<string, string>();

  private constructor(dir: string, lock: DirLock, writer: LedgerWriter, replay: Replay, torn: TornReport | null, options: LedgerOptions) {
    this.dir = dir;
    this.#lock = lock;
    this.#writer = writer;
    this.#replay = replay;
    this.accounts = replay.accounts.clone();
    this.unsettled = [...replay.unsettled];
    this.lastStreamIds = replay.streamIds;
    this.torn = torn;
    this.#allowanceOf = options.allowanceOf ?? (() => null);
    this.#log = options.log;
    this.#checkpointEvery = options.checkpointEvery ?? 10_000;
    this.#retention = options.retention ?? null;
    const intervalMs = options.checkpointIntervalMs ?? 300_000;
    this.#checkpointTimer = intervalMs > 0 ? setInterval(() => this.#checkpointIfBehind(), intervalMs).unref() : null;
  }

  static async open(options: LedgerOptions): Promise<Ledger> {
    const { dir, metrics, log } = options;
    await mkdir(dir, { recursive: true });
    const lock = DirLock.acquire(dir, { instance: options.instance ?? 'unnamed' });
    try {
      return await Ledger.#open(options, lock);
    } catch (err) {
      lock.release();
      throw err;
    }
  }

  static async #open(options: LedgerOptions, lock: DirLock): Promise<Ledger> {
    const { dir, metrics, log } = options;
    const started = performance.now();
    const { replay, walk, checkpoint } = loadLedger(dir);
    if (walk.problems.length > 0) throw new LedgerCorruptError(dir, walk.problems);
    let torn: TornReport | null = null;
    if (walk.torn) {
      torn = await quarantineTornTail(dir, walk.torn);
      metrics?.ledgerTornTails.inc();
      log?.warn({ ledger: torn }, `ledger: a torn last line (${torn.bytes} bytes, never acknowledged) was set aside to ${torn.quarantinedTo}`);
    }
    let ledger: Ledger | null = null;
    const writer = await LedgerWriter.open(
      {
        dir,
        maxFileBytes: options.maxFileBytes ?? 64 * 1024 * 1024,
        format: options.format,
        commitWindowMs: options.commitWindowMs ?? 2,
        syncIntervalMs: options.syncIntervalMs ?? 20,
        onCommit: metrics
          ? ({ entries, bytes, seconds }) => {
              metrics.ledgerBatchEntries.observe(entries);
              metrics.ledgerBytes.inc(bytes);
              metrics.ledgerCommitSeconds.observe(seconds);
            }
          : undefined,
        onRotate: (file) => {
          log?.info({ file }, 'ledger: rotated to a new file');
          if (ledger) ledger.#scheduleCheckpoint(true);
        },
        onFailure: (err) => log?.error({ err }, 'ledger: a write failed; appending has stopped until restart'),
      },
      walk.head,
      walk.segments.at(-1) ?? null,
    );
    log?.info(
      { dir, replayed: walk.entries, from_checkpoint: checkpoint, head_seq: walk.head.seq, files: walk.segments.length, ms: Math.round(performance.now() - started) },
      'ledger: replayed',
    );
    ledger = new Ledger(dir, lock, writer, replay, torn, options);
    // A long tail (a ledger from before checkpoints, or a crash long after the last one): the next
    // start need not replay it again.
    ledger.#sinceCheckpoint = Math.max(0, walk.entries - 1);
    if (ledger.#checkpointEvery > 0 && ledger.#sinceCheckpoint >= ledger.#checkpointEvery) ledger.#scheduleCheckpoint();
    return ledger;
  }

  /** UsageRecorder: one charge entry per metered exchange. Never throws into the request path. */
  record(record: UsageRecord, pico?: bigint): Promise<void> {
    try {
      // Resolves once the charge is in the file; a failed write is reported by the writer itself.
      return this.charge(record, pico).written.catch(() => {});
    } catch (err) {
      // Only after close (a request outliving the drain): say loudly which charge is missing.
      this.#log?.error({ err, charge: record }, 'ledger: a charge could not be appended');
      return Promise.resolve();
    }
  }

  /**
   * Appends a charge. With `decided`, the state store has already booked it and chosen its split
   * (allowance, wallet): the entry records that split and the balances are the store's. Without,
   * the ledger splits and books it itself.
   */
  charge(record: UsageRecord, pico = parseCredits(record.credits), decided?: Split, extra?: ChargeExtras): Appended {
    const split = decided ?? this.accounts.split(record.org, pico, this.#allowanceOf(record.org), record.ts);
    const appended = this.#writer.append({
      type: 'charge',
      ...record,
      period: split.period,
      from_allowance: formatCredits(split.fromAllowance),
      from_wallet: formatCredits(split.fromWallet),
      ...extra,
    });
    if (!decided) this.accounts.applyCharge(record.org, split.period, pico, split.fromAllowance, split.fromWallet);
    this.#replay.applyCharge(appended.entry as ChargeEntry, pico, split);
    this.#appended();
    return appended;
  }

  /**
   * Adds credits to a wallet once per (org, grant id); a repeat resolves to the entry already
   * recorded (read back from the files when this process did not append it). A new grant is
   * appended before this returns.
   */
  async grant(request: GrantRequest): Promise<{ entry: GrantEntry; created: boolean; acked: Promise<void> }> {
    if (!this.accounts.hasGrant(request.org, request.grantId)) {
      const appended = this.#append(grantBody(request));
      this.#recentGrants.add(appended.entry as GrantEntry);
      return { entry: appended.entry as GrantEntry, created: true, acked: appended.acked };
    }
    const acked = this.flush();
    let existing: GrantEntry | null = this.#recentGrants.get(request.org, request.grantId) ?? null;
    if (existing === null) {
      await acked;
      existing = await findGrant(this.dir, request.org, request.grantId);
    }
    if (existing === null) throw new Error(`grant ${request.grantId} of ${request.org} is in the balances but no ledger file here holds its entry (archived out of reach?)`);
    return { entry: existing, created: false, acked };
  }

  /** Records a grant that the shared state store has already booked (its balances are the store's). */
  recordGrant(body: Omit<GrantEntry, 'seq' | 'prev_hash' | 'hash'>): Appended {
    const appended = this.#writer.append(body);
    this.#replay.apply(appended.entry);
    this.#recentGrants.add(appended.entry as GrantEntry);
    this.#appended();
    return appended;
  }

  /** Records the config's wallet grants that the ledger does not hold yet. */
  applyConfigGrants(orgs: readonly Pick<OrgConfig, 'id' | 'wallet'>[]): Promise<void> {
    for (const org of orgs) {
      for (const g of org.wallet.grants) {
        if (this.accounts.hasGrant(org.id, g.id)) continue;
        void this.grant({ org: org.id, pico: parseCredits(String(g.credits)), kind: 'grant', grantId: g.id, source: 'config', by: null, note: g.note });
        this.#log?.info({ org: org.id, grant_id: g.id, credits: String(g.credits) }, 'ledger: config grant recorded');
      }
    }
    return this.flush();
  }

  balance(org: string, now = new Date()): OrgBalance {
    return this.accounts.balance(org, this.#allowanceOf(org), now);
  }

  get head() {
    return this.#writer.head;
  }

  /** Why appending stopped (a write or fsync failed), if it did. */
  get failure(): Error | null {
    return this.#writer.failure;
  }

  flush(): Promise<void> {
    return this.#writer.flush();
  }

  /**
   * Appends a checkpoint (the replay of everything before it) unless nothing was appended since
   * the last one; runs from timers and at close, off the request path.
   */
  checkpoint(): Appended | null {
    if (this.#closed || this.#sinceCheckpoint === 0 || this.#writer.failure) return null;
    const appended = this.#writer.append({ type: 'checkpoint', ts: new Date().toISOString(), checkpoint: this.#replay.state() });
    this.#sinceCheckpoint = 0;
    return appended;
  }

  /**
   * Runs the retention policy once the newest checkpoint is durable (only files before it can
   * go). A failed step keeps the file and is logged; the next rotation tries again.
   */
  archive(): Promise<void> {
    const retention = this.#retention;
    if (retention === null) return this.#archiving;
    this.#archiving = this.#archiving
      .then(() => archiveSegments(this.dir, retention))
      .then(
        (archived) => {
          if (archived.length > 0) this.#log?.info({ archived: archived.map((a) => a.name), last_seq: archived.at(-1)!.last_seq }, 'ledger: closed files archived');
        },
        (err: unknown) => this.#log?.error({ err: String(err) }, 'ledger: archiving failed; the files are kept'),
      );
    return this.#archiving;
  }

  /** Continues the chain after `tollbooth ledger repair` set a damaged tail aside. */
  recordRepair(body: Omit<RepairEntry, 'seq' | 'prev_hash' | 'hash'>): Appended {
    const appended = this.#writer.append(body);
    this.#appended();
    return appended;
  }

  async close(): Promise<void> {
    try {
      this.checkpoint();
      this.#closed = true;
      if (this.#checkpointTimer) clearInterval(this.#checkpointTimer);
      if (this.#checkpointSoon) clearImmediate(this.#checkpointSoon);
      await this.#writer.close();
      await this.#archiving;
    } finally {
      this.#lock.release();
    }
  }

  #append(body: Parameters<LedgerWriter['append']>[0]): Appended {
    const appended = this.#writer.append(body);
    this.accounts.apply(appended.entry);
    this.#replay.apply(appended.entry);
    this.#appended();
    return appended;
  }

  #appended(): void {
    if (++this.#sinceCheckpoint === this.#checkpointEvery) this.#scheduleCheckpoint();
  }

  #scheduleCheckpoint(rotated = false): void {
    if (this.#closed) return;
    if (rotated) this.#archiveAfterCheckpoint = true;
    if (this.#checkpointSoon !== null) return;
    this.#checkpointSoon = setImmediate(() => {
      this.#checkpointSoon = null;
      const appended = this.checkpoint();
      if (appended && this.#archiveAfterCheckpoint && this.#retention) {
        this.#archiveAfterCheckpoint = false;
        appended.acked.then(() => this.archive(), () => {});
      }
    });
  }

  #archiveAfterCheckpoint = false;

  #checkpointIfBehind(): void {
    if (this.#sinceCheckpoint > 0) this.checkpoint();
  }
}

/** The grant entry a request records (the chain fields are the writer's to add). */
export function grantBody(request: GrantRequest): Omit<GrantEntry, 'seq' | 'prev_hash' | 'hash'> {
  return {
    type: 'grant',
    ts: new Date().toISOString(),
    org: request.org,
    kind: request.kind,
    grant_id: request.grantId,
    credits: formatCredits(request.pico),
    source: request.source,
    by: request.by,
    note: request.note,
  };
}
