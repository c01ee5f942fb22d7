/**
 * Catalog prices as exact integers. YAML gives prices as JS numbers; their shortest decimal text
 * (what Number#toString prints) is the figure the catalog's author wrote, so that text is scaled by
 * whole powers of ten, never multiplied in floating point.
 */

/** `value` × 10^decimals as a BigInt, or null when it has more decimals than that (or is not ≥ 0 and finite). */
export function scaledDecimal(value: number, decimals: number): bigint | null {
  if (!Number.isFinite(value) || value < 0) return null;
  const [mantissa, exponentText] = value.toString().toLowerCase().split('e') as [string, string | undefined];
  const [whole, fraction = ''] = mantissa.split('.') as [string, string | undefined];
  const exponent = exponentText === undefined ? 0 : Number(exponentText);
  // digits × 10^(exponent − fraction.length) is the value; scale by 10^decimals.
  const shift = decimals + exponent - fraction.length;
  const digits = BigInt(`${whole}${fraction}`);
  if (shift >= 0) return digits * 10n ** BigInt(shift);
  const divisor = 10n ** BigInt(-shift);
  return digits % divisor === 0n ? digits / divisor : null;
}

/** The decimal text of `scaled` / 10^decimals ("1.25", "0.000015", "3"). */
export function unscaledText(scaled: bigint, decimals: number): string {
  const negative = scaled < 0n;
  const abs = negative ? -scaled : scaled;
  const unit = 10n ** BigInt(decimals);
  const frac = (abs % unit).toString().padStart(decimals, '0').replace(/0+$/, '');
  return `${negative ? '-' : ''}${abs / unit}${frac ? `.${frac}` : ''}`;
}
