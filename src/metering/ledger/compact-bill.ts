/**
 * A charge's bill in the compact line format (`bl`), in about half its bytes, given back exactly:
 * - short keys: `c` catalog, `k` credits (without `run`, always 1), `p` rates, `r` rate id (its
 *   `<model>@` prefix left out when it is the charge's model), `t` service tier, `u` usage;
 * - token classes by short codes (`i` input, `cr` cache_read, `w5`/`w1` cache writes, `ai`/`ii`
 *   audio/image input, `o` output, `rs` reasoning, `ao`/`io` audio/image output); units keep their names;
 * - `u` left out when the charge's own token fields give the same classes (no cache writes,
 *   audio, image or units): the reader derives it with the same class rule.
 * A bill this codec cannot give back exactly (another `run`, a member it does not know) is carried
 * verbatim; a reader tells the two apart by the verbatim one's `catalog` key.
 */
import type { BillStamp } from '../pricing/bill.ts';
import { TOKEN_CLASSES, tokenClasses, type TokenClass } from '../pricing/classes.ts';
import type { ChargeEntry } from './entry.ts';

const CODE: Record<TokenClass, string> = {
  input: 'i',
  cache_read: 'cr',
  cache_write_5m: 'w5',
  cache_write_1h: 'w1',
  audio_input: 'ai',
  image_input: 'ii',
  output: 'o',
  reasoning: 'rs',
  audio_output: 'ao',
  image_output: 'io',
};
const NAME = new Map(Object.entries(CODE).map(([name, code]) => [code, name]));
const STAMP_KEYS = new Set(['catalog', 'credits', 'rate', 'rates', 'service_tier', 'usage']);

type ChargeFields = Pick<ChargeEntry, 'model' | 'operation' | 'prompt_tokens' | 'completion_tokens' | 'cached_tokens' | 'reasoning_tokens'>;

/** Class names → codes (units as they are), keys in sorted order: canonical as JSON.stringify writes it. */
function encodeMap<T>(map: Record<string, T>, drop?: string): Record<string, T> {
  const entries: [string, T][] = [];
  for (const key in map) if (key !== drop) entries.push([CODE[key as TokenClass] ?? key, map[key]!]);
  entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return Object.fromEntries(entries);
}

function decodeMap<T>(map: Record<string, T>, extra?: [string, T]): Record<string, T> {
  const entries: [string, T][] = Object.entries(map).map(([key, value]) => [NAME.get(key) ?? key, value]);
  if (extra) entries.push(extra);
  entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return Object.fromEntries(entries);
}

/** The classes a charge's own token fields give (the meter's rule), zero classes left out. */
function derivedUsage(c: ChargeFields): Record<string, number> {
  const classes = tokenClasses(
    { prompt_tokens: c.prompt_tokens, completion_tokens: c.completion_tokens, cached_tokens: c.cached_tokens, reasoning_tokens: c.reasoning_tokens, source: 'reported' },
    c.operation === 'embeddings',
  );
  const usage: Record<string, number> = {};
  for (const cls of TOKEN_CLASSES) if (classes[cls] > 0) usage[cls] = classes[cls];
  return usage;
}

function sameCounts(a: Record<string, number>, b: Record<string, number>): boolean {
  const keys = Object.keys(a);
  return keys.length === Object.keys(b).length && keys.every((k) => a[k] === b[k]);
}

/** The compact `bl` of a bill, or null when only the verbatim form gives it back exactly. */
export function encodeBill(bill: BillStamp, charge: ChargeFields): Record<string, unknown> | null {
  for (const key in bill) if (!STAMP_KEYS.has(key)) return null;
  if (bill.credits.run !== '1') return null;
  const prefix = `${charge.model}@`;
  const out: Record<string, unknown> = {
    c: bill.catalog,
    k: encodeMap(bill.credits, 'run'),
    p: encodeMap(bill.rates),
    r: charge.model !== null && bill.rate.startsWith(prefix) ? bill.rate.slice(prefix.length - 1) : bill.rate,
  };
  if (bill.service_tier !== undefined) out.t = bill.service_tier;
  if (!sameCounts(bill.usage, derivedUsage(charge))) out.u = encodeMap(bill.usage);
  return out;
}

/** A `bl` back as the bill it was written from (keys in canonical order). */
export function decodeBill(bl: Record<string, any>, charge: ChargeFields): BillStamp {
  if ('catalog' in bl) return bl as BillStamp;
  const rate = String(bl.r);
  const bill: BillStamp = {
    catalog: bl.c,
    credits: decodeMap<string>(bl.k ?? {}, ['run', '1']),
    rate: rate.startsWith('@') && charge.model !== null ? `${charge.model}${rate}` : rate,
    rates: decodeMap<string>(bl.p ?? {}),
    usage: bl.u === undefined ? derivedUsage(charge) : decodeMap<number>(bl.u),
  };
  if (bl.t !== undefined) {
    // service_tier sorts between rates and usage.
    const { usage, ...rest } = bill;
    return { ...rest, service_tier: bl.t, usage };
  }
  return bill;
}
