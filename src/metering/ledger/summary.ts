/**
 * Totals and balances read from the ledger files alone (no config needed): what `ledger summary`
 * prints, read as a stream. Files retention archived are read only when asked (`--archived`);
 * without them the totals cover the files still here, and the wallets start from the first
 * checkpoint after the archived files (which holds every balance up to it), so they stay exact.
 */
import { formatCredits, parseCredits } from '../credits.ts';
import type { ChainHead, ChainProblem } from './chain.ts';
import { currentState } from './checkpoint.ts';
import type { ChargeEntry } from './entry.ts';
import { walkHistory } from './history.ts';
import { readArchiveManifest } from './segments.ts';

export type GroupBy = 'org' | 'model' | 'provider' | 'day';

export interface GroupTotals {
  key: string;
  requests: number;
  prompt_tokens: number;
  completion_tokens: number;
  credits: string;
  /** Exchanges on a customer's own key: recorded, 0 credits. */
  byok_requests: number;
  /** Credits by bill line (run, token class, unit), from the charges' stamps. */
  credits_by_class: Record<string, string>;
}

export interface WalletSummary {
  org: string;
  granted: string;
  charged: string;
  from_allowance: string;
  from_wallet: string;
  wallet: string;
}

export interface LedgerSummary {
  entries: number;
  files: number;
  /** Archived files read; null when they were not asked for (or there are none). */
  archived_files: number | null;
  /** Archived files whose entries are not in the totals (not asked for, or not readable here). */
  archived_not_read: number;
  /** The first seq the totals cover (1 when the whole history was read). */
  first_seq: number;
  head: ChainHead;
  problems: ChainProblem[];
  groups: GroupTotals[];
  wallets: WalletSummary[];
  total_credits: string;
  /** Credits by bill line over every group; charges written before stamps count under `unstamped`. */
  credits_by_class: Record<string, string>;
}

const KEY: Record<GroupBy, (c: ChargeEntry) => string> = {
  org: (c) => c.org,
  model: (c) => c.model ?? `(not in catalog: ${c.upstream_model})`,
  provider: (c) => c.provider,
  day: (c) => c.ts.slice(0, 10),
};

export async function summarize(dir: string, by: GroupBy, options: { archived?: boolean } = {}): Promise<LedgerSummary> {
  const groups = new Map<string, { requests: number; prompt: number; completion: number; pico: bigint; byok: number; classes: Map<string, bigint> }>();
  const totalByClass = new Map<string, bigint>();
  const wallets = new Map<string, { granted: bigint; charged: bigint; allowance: bigint; wallet: bigint }>();
  const walletOf = (org: string) => {
    let w = wallets.get(org);
    if (!w) wallets.set(org, (w = { granted: 0n, charged: 0n, allowance: 0n, wallet: 0n }));
    return w;
  };
  let total = 0n;
  let firstSeq = 0;
  /** History before the walk's start was not read: the wallets are taken from the next checkpoint. */
  let walletsFromCheckpoint = false;
  const visit = (entry: Parameters<Parameters<typeof walkHistory>[1]>[0]) => {
    if (firstSeq === 0) firstSeq = entry.seq;
    if (entry.type === 'checkpoint' && walletsFromCheckpoint) {
      walletsFromCheckpoint = false;
      wallets.clear();
      for (const [org, o] of Object.entries(currentState(entry.checkpoint).orgs)) {
        const granted = parseCredits(o.granted);
        const allowance = Object.values(o.allowance_used).reduce((sum, used) => sum + parseCredits(used), 0n);
        wallets.set(org, { granted, charged: parseCredits(o.charged), allowance, wallet: granted - parseCredits(o.wallet) });
      }
    }
    if (entry.type === 'checkpoint' || entry.type === 'repair') return;
    const w = walletOf(entry.org);
    if (entry.type === 'grant') {
      w.granted += parseCredits(entry.credits);
      return;
    }
    const pico = parseCredits(entry.credits);
    total += pico;
    w.charged += pico;
    w.allowance += parseCredits(entry.from_allowance);
    w.wallet += parseCredits(entry.from_wallet);
    const key = KEY[by](entry);
    let g = groups.get(key);
    if (!g) groups.set(key, (g = { requests: 0, prompt: 0, completion: 0, pico: 0n, byok: 0, classes: new Map() }));
    g.requests++;
    g.prompt += entry.prompt_tokens;
    g.completion += entry.completion_tokens;
    g.pico += pico;
    if (entry.billing === 'byok') g.byok++;
    if (entry.bill) {
      for (const [line, credits] of Object.entries(entry.bill.credits)) addTo([g.classes, totalByClass], line, parseCredits(credits));
    } else if (pico !== 0n) addTo([g.classes, totalByClass], 'unstamped', pico);
  };
  const archivedNames = readArchiveManifest(dir)?.segments.length ?? 0;
  walletsFromCheckpoint = archivedNames > 0 && !options.archived;
  const walk = await walkHistory(dir, visit, {
    archived: options.archived === true,
    afterArchive: (archive) => {
      if (archive.unreadable.length > 0) walletsFromCheckpoint = true;
    },
  });
  return {
    entries: walk.entries,
    files: walk.files,
    archived_files: walk.archive?.checked ?? null,
    archived_not_read: walk.archive ? walk.archive.unreadable.length : archivedNames,
    first_seq: firstSeq,
    head: walk.head,
    problems: walk.problems,
    total_credits: formatCredits(total),
    groups: [...groups.entries()]
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([key, g]) => ({
        key,
        requests: g.requests,
        prompt_tokens: g.prompt,
        completion_tokens: g.completion,
        credits: formatCredits(g.pico),
        byok_requests: g.byok,
        credits_by_class: byClass(g.classes),
      })),
    credits_by_class: byClass(totalByClass),
    wallets: [...wallets.entries()]
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([org, w]) => ({
        org,
        granted: formatCredits(w.granted),
        charged: formatCredits(w.charged),
        from_allowance: formatCredits(w.allowance),
        from_wallet: formatCredits(w.wallet),
        wallet: formatCredits(w.granted - w.wallet),
      })),
  };
}

function addTo(maps: Map<string, bigint>[], line: string, pico: bigint): void {
  for (const map of maps) map.set(line, (map.get(line) ?? 0n) + pico);
}

function byClass(map: Map<string, bigint>): Record<string, string> {
  return Object.fromEntries([...map].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([line, pico]) => [line, formatCredits(pico)]));
}
