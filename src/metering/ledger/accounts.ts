/**
 * Org balances, rebuilt by replaying the ledger and kept current as entries are appended.
 *
 * Spend order: a charge is paid from the org's allowance for the period it falls in (UTC day or
 * month) until that is used up, then from the wallet. The split is decided when the charge is
 * appended and written into the entry (`from_allowance`, `from_wallet`), so a replay never depends
 * on the plan in force today. Wallet = grants − wallet parts of charges. All amounts are BigInt
 * pico-credits (see ../credits.ts).
 */
import { parseCredits } from '../credits.ts';
import type { LedgerEntry } from './entry.ts';

export type Period = 'daily' | 'monthly';

export interface Allowance {
  pico: bigint;
  period: Period;
}

/** The allowance period a timestamp falls in: "2026-05" (monthly) or "2026-05-14" (daily), UTC. */
export function periodKey(period: Period, at: Date | string): string {
  // Entry timestamps are already toISOString() output (UTC, Z): sliced as they are.
  const iso = typeof at === 'string' ? (at.endsWith('Z') ? at : new Date(at).toISOString()) : at.toISOString();
  return period === 'monthly' ? iso.slice(0, 7) : iso.slice(0, 10);
}

interface Account {
  granted: bigint;
  wallet: bigint;
  charged: bigint;
  /** Period key → allowance spent in it. */
  allowanceUsed: Map<string, bigint>;
  grantIds: Set<string>;
}

export interface Split {
  period: string | null;
  fromAllowance: bigint;
  fromWallet: bigint;
}

export interface OrgBalance {
  period: string | null;
  allowance: bigint;
  allowanceUsed: bigint;
  allowanceRemaining: bigint;
  wallet: bigint;
  granted: bigint;
  charged: bigint;
  /** allowance remaining + wallet (may be negative when a settled charge exceeded its estimate). */
  spendable: bigint;
}

export class Accounts {
  readonly #orgs = new Map<string, Account>();

  #account(org: string): Account {
    let account = this.#orgs.get(org);
    if (!account) {
      account = { granted: 0n, wallet: 0n, charged: 0n, allowanceUsed: new Map(), grantIds: new Set() };
      this.#orgs.set(org, account);
    }
    return account;
  }

  orgs(): string[] {
    return [...this.#orgs.keys()];
  }

  /** Applies one entry (replay, or a live append). */
  apply(entry: LedgerEntry): void {
    if (entry.type === 'checkpoint' || entry.type === 'repair') return;
    if (entry.type === 'grant') {
      const account = this.#account(entry.org);
      // A grant id applies once per org. A consolidated ledger can hold one twice: a config grant
      // booked again by a replica after Redis lost its data (and with it the ids it had seen).
      if (account.grantIds.has(entry.grant_id)) return;
      const credits = parseCredits(entry.credits);
      account.granted += credits;
      account.wallet += credits;
      account.grantIds.add(entry.grant_id);
      return;
    }
    this.applyCharge(entry.org, entry.period, parseCredits(entry.credits), parseCredits(entry.from_allowance), parseCredits(entry.from_wallet));
  }

  /** A charge's amounts, already in pico-credits (a live append: no text to parse). */
  applyCharge(org: string, period: string | null, credits: bigint, fromAllowance: bigint, fromWallet: bigint): void {
    const account = this.#account(org);
    account.charged += credits;
    account.wallet -= fromWallet;
    if (period !== null && fromAllowance > 0n) {
      account.allowanceUsed.set(period, (account.allowanceUsed.get(period) ?? 0n) + fromAllowance);
    }
  }

  /** How a charge of `pico` at `at` is paid under `allowance` (spend order: allowance, then wallet). */
  split(org: string, pico: bigint, allowance: Allowance | null, at: string): Split {
    if (allowance === null) return { period: null, fromAllowance: 0n, fromWallet: pico };
    const period = periodKey(allowance.period, at);
    const used = this.#orgs.get(org)?.allowanceUsed.get(period) ?? 0n;
    const left = allowance.pico > used ? allowance.pico - used : 0n;
    const fromAllowance = pico < left ? pico : left;
    return { period, fromAllowance, fromWallet: pico - fromAllowance };
  }

  /** Everything known of an org: totals, allowance used per period, grant ids (for reconcile). */
  snapshot(org: string): { granted: bigint; wallet: bigint; charged: bigint; allowanceUsed: ReadonlyMap<string, bigint>; grantIds: ReadonlySet<string> } {
    const a = this.#account(org);
    return { granted: a.granted, wallet: a.wallet, charged: a.charged, allowanceUsed: a.allowanceUsed, grantIds: a.grantIds };
  }

  /** Sets an org's account as a checkpoint recorded it (start-up from a checkpoint). */
  restore(org: string, account: { granted: bigint; wallet: bigint; charged: bigint; allowanceUsed: Map<string, bigint>; grantIds: Set<string> }): void {
    this.#orgs.set(org, { ...account });
  }

  /** An independent copy (the ledger's replay state and the live balances start equal). */
  clone(): Accounts {
    const copy = new Accounts();
    for (const [org, a] of this.#orgs) copy.restore(org, { ...a, allowanceUsed: new Map(a.allowanceUsed), grantIds: new Set(a.grantIds) });
    return copy;
  }

  hasGrant(org: string, grantId: string): boolean {
    return this.#orgs.get(org)?.grantIds.has(grantId) ?? false;
  }

  balance(org: string, allowance: Allowance | null, now: Date): OrgBalance {
    const account = this.#orgs.get(org);
    const period = allowance ? periodKey(allowance.period, now) : null;
    const allowancePico = allowance?.pico ?? 0n;
    const used = period !== null ? (account?.allowanceUsed.get(period) ?? 0n) : 0n;
    const remaining = allowancePico > used ? allowancePico - used : 0n;
    const wallet = account?.wallet ?? 0n;
    return {
      period,
      allowance: allowancePico,
      allowanceUsed: used,
      allowanceRemaining: remaining,
      wallet,
      granted: account?.granted ?? 0n,
      charged: account?.charged ?? 0n,
      spendable: remaining + wallet,
    };
  }
}
