/**
 * The shared state that decides money and limits, behind one interface: credit holds, balances
 * (grants, charges, allowance use per period) and RPM/TPM buckets. Two implementations:
 * - memory: one process (the embedded default); balances are the replay of the local ledger;
 * - redis: any number of replicas; every operation is one atomic server-side script, idempotent
 *   per hold id (a retried settle never charges twice), holds expire by TTL.
 * Amounts are BigInt pico-credits at this interface; each store keeps them exact its own way.
 */
import type { Allowance, OrgBalance, Split } from '../metering/ledger/accounts.ts';
import type { Draw } from '../admission/token-bucket.ts';

export type { Draw };

export type TakeResult =
  | { ok: true }
  /** `index`: the draw that must wait longest; `level`: what its bucket holds now. */
  | { ok: false; index: number; waitMs: number; level: number };

export interface AdmitRequest {
  /** Rate-limit draws (RPM/TPM per key and per org). */
  draws: readonly Draw[];
  /** The credit hold, or null when nothing is held (BYOK, no plan). */
  hold: ReserveRequest | null;
  /** ms clock of the memory store (tests move it); the shared store uses the server's. */
  now: number;
}

export type AdmitResult =
  | { ok: true }
  /** Rate-limited: nothing was taken. `index`: the draw that must wait longest; `level`: what its bucket holds. */
  | { ok: false; refused: 'rate'; index: number; waitMs: number; level: number }
  /** The hold does not fit: nothing was taken. `available`: allowance left + wallet − other holds. */
  | { ok: false; refused: 'credits'; available: bigint };

export interface ReserveRequest {
  org: string;
  /** Unique per admitted request: names the hold, and makes the settle idempotent. */
  holdId: string;
  amount: bigint;
  allowance: Allowance | null;
  now: Date;
  /** How long the hold lives if nobody settles or releases it (a crashed replica). */
  ttlMs: number;
}

export interface SettleRequest {
  org: string;
  holdId: string;
  /** The charge, in pico-credits (0 for BYOK and failed calls: still recorded). */
  pico: bigint;
  allowance: Allowance | null;
  /** The charge's timestamp (ISO): it picks the allowance period. */
  at: string;
  /** The full record, for the shared charge stream (redis); the memory store ignores it. */
  record: string;
  /** TPM buckets to correct in the same step: cost = reported tokens − tokens counted at admission. */
  corrections?: readonly Draw[];
}

export interface SettleResult {
  split: Split;
  /** The hold id had already been settled: nothing was charged again. */
  duplicate: boolean;
}

export interface GrantRequest {
  org: string;
  grantId: string;
  pico: bigint;
  /** The grant entry, stored with it so a repeated id returns the same entry. */
  entry: string;
}

export interface GrantResult {
  created: boolean;
  /** The entry recorded under this grant id (the existing one for a repeat). */
  entry: string;
}

export interface StateBalance extends OrgBalance {
  /** Credits held by requests in flight. */
  held: bigint;
}

export interface StateStore {
  readonly kind: 'memory' | 'redis';
  /** Adds `cost` (negative: gives back) without a check; a bucket may go into debt. */
  adjust(draws: readonly Draw[], now: number): Promise<void>;
  /** Takes the rate-limit draws and holds the credits, in one step: all of it or nothing. */
  admit(request: AdmitRequest): Promise<AdmitResult>;
  /** Books the charge (allowance first, then wallet) and drops the hold, in one step. */
  settle(request: SettleRequest): Promise<SettleResult>;
  /** Drops the hold without charging (no upstream was reached). Safe after settle. */
  release(org: string, holdId: string): Promise<void>;
  /** Adds credits to the wallet once per (org, grant id). */
  grant(request: GrantRequest): Promise<GrantResult>;
  balance(org: string, allowance: Allowance | null, now: Date): Promise<StateBalance>;
  /** Calls `fn` each time the store becomes reachable again (a shared store only). */
  onAvailable?(fn: () => void): void;
  close(): Promise<void>;
}

/** The shared store cannot be reached: managed calls are refused (or served from a lease). */
export class StateUnavailableError extends Error {
  constructor(cause: unknown) {
    super(`the shared state store is unreachable: ${(cause as Error)?.message ?? String(cause)}`, { cause });
    this.name = 'StateUnavailableError';
  }
}
