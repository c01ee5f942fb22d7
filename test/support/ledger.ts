/**
 * The one way tests read a ledger directory: the production reader (walkChain), so every line
 * format (1: full keys, 2: compact) comes back as full entries, in chain order across files. A torn
 * last line (a writer killed, or still writing) is not an entry and is left out.
 */
import { existsSync } from 'node:fs';
import { walkChain } from '../../src/metering/ledger/chain.ts';
import type { ChargeEntry, GrantEntry, LedgerEntry } from '../../src/metering/ledger/entry.ts';
import type { UsageRecord } from '../../src/metering/record.ts';

/** Every entry of the ledger files in `dir` (none when it does not exist). */
export function readLedger(dir: string): LedgerEntry[] {
  if (!existsSync(dir)) return [];
  const entries: LedgerEntry[] = [];
  walkChain(dir, (entry) => entries.push(entry));
  return entries;
}

export function ledgerChargeEntries(dir: string): ChargeEntry[] {
  return readLedger(dir).filter((e): e is ChargeEntry => e.type === 'charge');
}

export function ledgerGrantEntries(dir: string): GrantEntry[] {
  return readLedger(dir).filter((e): e is GrantEntry => e.type === 'grant');
}

/** The charge entries as the UsageRecords they carry (chain fields and the split left out). */
export function ledgerCharges(dir: string): UsageRecord[] {
  return ledgerChargeEntries(dir).map(({ type, seq, prev_hash, hash, period, from_allowance, from_wallet, ...record }) => record as UsageRecord);
}
