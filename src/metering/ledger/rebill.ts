/**
 * `ledger rebill`: every charge recomputed from what it stamps (its usage by class and unit, and the
 * rates it was priced at), compared with the credits it booked — 0 differences is the proof that the
 * bill can be re-derived from the ledger alone. With another catalog, the same traffic is priced by
 * that catalog instead (the rate in force at each request's start, its served service tier and
 * context tier): a preview of a price change on real traffic.
 */
import type { Catalog } from '../../catalog/catalog.ts';
import type { Operation } from '../../catalog/types.ts';
import { formatCredits, parseCredits, PICO_PER_CREDIT, RUN_CREDIT } from '../credits.ts';
import { charge, type BillStamp } from '../pricing/bill.ts';
import { picoCreditsOf } from '../pricing/compile.ts';
import { INPUT_CLASSES, OUTPUT_CLASSES, TOKEN_CLASSES } from '../pricing/classes.ts';
import { scaledDecimal } from '../pricing/decimal.ts';
import type { Usage } from '../usage.ts';
import { walkChain, type ChainProblem } from './chain.ts';

export interface RebillDifference {
  file: string;
  line: number;
  seq: number;
  request_id: string;
  org: string;
  model: string | null;
  booked: string;
  rebilled: string;
  /** rebilled − booked. */
  difference: string;
  why: string;
}

export interface RebillReport {
  /** `stamps` (from each entry's own stamp) or the catalog's price version. */
  priced_by: string;
  charges: number;
  /** Managed charges with a stamp, recomputed. */
  rebilled: number;
  /** Charges without a stamp (BYOK, nothing served, or written before stamps existed): checked only when they booked 0. */
  unstamped: number;
  booked_total: string;
  rebilled_total: string;
  /** Rebilled credits per class, unit and `run`. */
  by_class: Record<string, string>;
  differences: RebillDifference[];
  problems: ChainProblem[];
}

const TOKEN_CLASS_SET: ReadonlySet<string> = new Set(TOKEN_CLASSES);

/** The pico-USD rate a stamp's rate text means (per token for a class, per unit otherwise). */
function stampedRate(name: string, text: string): bigint | null {
  const value = Number(text);
  return scaledDecimal(value, TOKEN_CLASS_SET.has(name) ? 6 : 12);
}

/** The credits per line of a stamp, recomputed from its usage and rates alone. */
function fromStamp(stamp: BillStamp): { lines: Map<string, bigint>; why: string | null } {
  const lines = new Map<string, bigint>([['run', RUN_CREDIT * PICO_PER_CREDIT]]);
  for (const [name, count] of Object.entries(stamp.usage)) {
    const text = stamp.rates[name];
    if (text === undefined) continue; // consumed without a price: metered 0
    const rate = stampedRate(name, text);
    if (rate === null) return { lines, why: `rate '${text}' of ${name} is not an exact price` };
    lines.set(name, picoCreditsOf(BigInt(count) * rate));
  }
  for (const [name, credits] of Object.entries(stamp.credits)) {
    if (parseCredits(credits) !== (lines.get(name) ?? 0n)) return { lines, why: `stamped credits of ${name} (${credits}) differ from its usage × rate` };
  }
  return { lines, why: null };
}

/** The usage a stamp describes, for pricing it again under another catalog. */
function usageOfStamp(stamp: BillStamp): Usage {
  const n = (name: string): number => stamp.usage[name] ?? 0;
  const units = Object.fromEntries(Object.entries(stamp.usage).filter(([name]) => !TOKEN_CLASS_SET.has(name)));
  return {
    prompt_tokens: INPUT_CLASSES.reduce((sum, cls) => sum + n(cls), 0),
    completion_tokens: OUTPUT_CLASSES.reduce((sum, cls) => sum + n(cls), 0),
    cached_tokens: n('cache_read'),
    reasoning_tokens: n('reasoning'),
    cache_write_5m_tokens: n('cache_write_5m'),
    cache_write_1h_tokens: n('cache_write_1h'),
    audio_input_tokens: n('audio_input'),
    image_input_tokens: n('image_input'),
    audio_output_tokens: n('audio_output'),
    image_output_tokens: n('image_output'),
    ...(stamp.service_tier === undefined ? {} : { service_tier: stamp.service_tier }),
    units,
    source: 'reported',
  };
}

export function rebill(dir: string, catalog: Catalog | null = null): RebillReport {
  const byClass = new Map<string, bigint>();
  const differences: RebillDifference[] = [];
  let charges = 0;
  let rebilled = 0;
  let unstamped = 0;
  let booked = 0n;
  let total = 0n;
  const walk = walkChain(dir, (entry, at) => {
    if (entry.type !== 'charge') return;
    const c = entry;
    charges++;
    const bookedPico = parseCredits(c.credits);
    booked += bookedPico;
    const differ = (rebilledPico: bigint, why: string): void => {
      differences.push({
        file: at.file, line: at.line, seq: c.seq, request_id: c.request_id, org: c.org, model: c.model,
        booked: c.credits, rebilled: formatCredits(rebilledPico), difference: formatCredits(rebilledPico - bookedPico), why,
      });
    };
    if (!c.bill) {
      unstamped++;
      total += bookedPico;
      if (bookedPico !== 0n) differ(bookedPico, 'no bill stamp (written before stamps, or by another tool): not re-derivable');
      return;
    }
    rebilled++;
    let lines: Map<string, bigint>;
    let why: string | null;
    if (catalog === null) ({ lines, why } = fromStamp(c.bill));
    else {
      const model = c.model === null ? null : (catalog.models.get(c.model) ?? null);
      const at = Date.parse(c.ts) - c.duration_ms;
      const result = charge({ usage: usageOfStamp(c.bill), model, billing: 'managed', operation: c.operation as Operation, served: true, at });
      lines = new Map(Object.entries(result.bill?.credits ?? {}).map(([name, text]) => [name, parseCredits(text)]));
      why = model === null ? `model '${c.model}' is not in that catalog: run credit only` : null;
    }
    let pico = 0n;
    for (const [name, part] of lines) {
      pico += part;
      byClass.set(name, (byClass.get(name) ?? 0n) + part);
    }
    total += pico;
    if (why !== null || pico !== bookedPico) differ(pico, why ?? (catalog === null ? 'the stamp does not add up to the booked credits' : 'priced differently by that catalog'));
  });
  return {
    priced_by: catalog === null ? 'stamps' : catalog.priceVersion,
    charges,
    rebilled,
    unstamped,
    booked_total: formatCredits(booked),
    rebilled_total: formatCredits(total),
    by_class: Object.fromEntries([...byClass].sort(([a], [b]) => (a < b ? -1 : 1)).map(([name, pico]) => [name, formatCredits(pico)])),
    differences,
    problems: walk.problems,
  };
}
