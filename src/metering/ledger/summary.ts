/** Totals and balances read from the ledger files alone (no config needed): what `ledger summary` prints. */
import { formatCredits, parseCredits } from '../credits.ts';
import { walkChain, type ChainHead, type ChainProblem } from './chain.ts';
import type { ChargeEntry } from './entry.ts';

export type GroupBy = 'org' | 'model' | 'provider' | 'day';

export interface GroupTotals {
  key: string;
  requests: number;
  prompt_tokens: number;
  completion_tokens: number;
  credits: string;
  /** Exchanges on a customer's own key: recorded, 0 credits. */
  byok_requests: number;
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
  head: ChainHead;
  problems: ChainProblem[];
  groups: GroupTotals[];
  wallets: WalletSummary[];
  total_credits: string;
}

const KEY: Record<GroupBy, (c: ChargeEntry) => string> = {
  org: (c) => c.org,
  model: (c) => c.model ?? `(not in catalog: ${c.upstream_model})`,
  provider: (c) => c.provider,
  day: (c) => c.ts.slice(0, 10),
};

export function summarize(dir: string, by: GroupBy): LedgerSummary {
  const groups = new Map<string, { requests: number; prompt: number; completion: number; pico: bigint; byok: number }>();
  const wallets = new Map<string, { granted: bigint; charged: bigint; allowance: bigint; wallet: bigint }>();
  const walletOf = (org: string) => {
    let w = wallets.get(org);
    if (!w) wallets.set(org, (w = { granted: 0n, charged: 0n, allowance: 0n, wallet: 0n }));
    return w;
  };
  let total = 0n;
  const walk = walkChain(dir, (entry) => {
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
    if (!g) groups.set(key, (g = { requests: 0, prompt: 0, completion: 0, pico: 0n, byok: 0 }));
    g.requests++;
    g.prompt += entry.prompt_tokens;
    g.completion += entry.completion_tokens;
    g.pico += pico;
    if (entry.billing === 'byok') g.byok++;
  });
  return {
    entries: walk.entries,
    files: walk.segments.length,
    head: walk.head,
    problems: walk.problems,
    total_credits: formatCredits(total),
    groups: [...groups.entries()]
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([key, g]) => ({ key, requests: g.requests, prompt_tokens: g.prompt, completion_tokens: g.completion, credits: formatCredits(g.pico), byok_requests: g.byok })),
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
