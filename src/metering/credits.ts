/**
 * The seed's constants and the credit amount's representation:
 *   credits = RUN_CREDIT + (prompt × input_usd_per_1m + completion × output_usd_per_1m) / 1e6 × MARGIN × SCALE
 * with RUN_CREDIT = 1 per run or chat turn, MARGIN = 1.05 and SCALE = 1000 (1000 credits = 1 USD).
 * pricing/bill.ts applies it per token class and unit.
 *
 * Representation: integer pico-credits (1 credit = 10^12) in BigInt. Catalog prices have at most
 * 6 decimals per 1M tokens (12 per unit), checked when the catalog loads, so every charge is an
 * integer: no rounding happens anywhere, and sums of charges are exact.
 */

export const RUN_CREDIT = 1n;
export const MARGIN_PERCENT = 105n;
export const SCALE = 1000n;
export const PICO_PER_CREDIT = 10n ** 12n;

/** Exact decimal text of a pico-credit amount ("1.00252", "0", "-3.5"). */
export function formatCredits(pico: bigint): string {
  return pico < 0n ? `-${creditText((-pico).toString())}` : creditText(pico.toString());
}

/** formatCredits for a non-negative safe integer of pico-credits, without a BigInt (the charge's hot path). */
export function formatPicoNumber(pico: number): string {
  return creditText(String(pico));
}

/** The decimal credits of a non-negative pico-credit amount written in digits. */
function creditText(digits: string): string {
  if (digits.length <= 12) digits = digits.padStart(13, '0');
  const cut = digits.length - 12;
  let end = digits.length;
  while (end > cut && digits.charCodeAt(end - 1) === 48) end--;
  return end === cut ? digits.slice(0, cut) : `${digits.slice(0, cut)}.${digits.slice(cut, end)}`;
}

/** Parses the text formatCredits writes. */
export function parseCredits(text: string): bigint {
  const match = /^(-?)(\d+)(?:\.(\d{1,12}))?$/.exec(text);
  if (!match) throw new Error(`not a credit amount: ${text}`);
  const pico = BigInt(match[2]!) * PICO_PER_CREDIT + BigInt((match[3] ?? '').padEnd(12, '0') || '0');
  return match[1] ? -pico : pico;
}
