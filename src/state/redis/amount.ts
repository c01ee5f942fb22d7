/**
 * How amounts cross into Redis exactly. Redis integers are 64-bit (2^63 pico-credits is only about
 * 9.2 million credits) and Lua numbers are doubles (exact to 2^53, about 9,007 credits in
 * pico-credits). So every amount is two integers: whole credits `w` and a pico remainder `r`, with
 * 0 ≤ r < 10^12 and the sign carried by `w` (−0.5 credits is w = −1, r = 5·10^11). Both stay far
 * below 2^53 for any balance up to ±10^15 credits, and the scripts do the carry (scripts.ts).
 */
import { PICO_PER_CREDIT } from '../../metering/credits.ts';

export interface Pair {
  w: string;
  r: string;
}

/** BigInt pico-credits → the pair the scripts take (floor division keeps r non-negative). */
export function toPair(pico: bigint): Pair {
  let w = pico / PICO_PER_CREDIT;
  let r = pico % PICO_PER_CREDIT;
  if (r < 0n) {
    r += PICO_PER_CREDIT;
    w -= 1n;
  }
  return { w: w.toString(), r: r.toString() };
}

/** The pair a script returned → BigInt pico-credits. */
export function fromPair(w: string | number, r: string | number): bigint {
  return BigInt(w) * PICO_PER_CREDIT + BigInt(r);
}
