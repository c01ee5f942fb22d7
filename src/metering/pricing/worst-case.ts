/**
 * The most a request can be charged before it is sent, for the credit hold: every input token at the
 * dearest input class, every output token at the dearest output class, at the dearest service tier
 * and every context tier the input could reach, plus the requested units at their dearest price.
 */
import type { ModelRecord } from '../../catalog/types.ts';
import { PICO_PER_CREDIT, RUN_CREDIT } from '../credits.ts';
import { periodAt, picoCreditsOf, pricesOf, type Rates } from './compile.ts';
import { INPUT_CLASSES, OUTPUT_CLASSES } from './classes.ts';


export interface WorstCase {
  model: ModelRecord | null;
  /** When the request starts (epoch ms). */
  at: number;
  /** Upper bounds on input and output tokens. */
  inputTokens: number;
  outputTokens: number;
  /** Units the request asks for, by unit name or prefix (`image`: any image size and quality). */
  units: Readonly<Record<string, number>>;
}

function dearest(rates: Rates, classes: readonly (keyof Rates)[]): bigint {
  return classes.reduce((max, cls) => (rates[cls] > max ? rates[cls] : max), 0n);
}

export function worstCasePico({ model, at, inputTokens, outputTokens, units }: WorstCase): bigint {
  const unitCount = Object.values(units).reduce((sum, n) => sum + n, 0);
  if (inputTokens + outputTokens + unitCount === 0) return 0n;
  const run = RUN_CREDIT * PICO_PER_CREDIT;
  if (!model) return run;
  const period = periodAt(pricesOf(model), at);
  let worstUsd = 0n;
  for (const tier of [period.standard, ...period.serviceTiers.values()]) {
    if (!tier) continue;
    const reachable = [tier.base, ...tier.contextTiers.filter((t) => inputTokens > t.above).map((t) => t.set)];
    for (const { rates } of reachable) {
      const usd = BigInt(inputTokens) * dearest(rates, INPUT_CLASSES) + BigInt(outputTokens) * dearest(rates, OUTPUT_CLASSES);
      if (usd > worstUsd) worstUsd = usd;
    }
  }
  for (const [unit, count] of Object.entries(units)) {
    let dearestUnit = 0n;
    for (const [key, { rate }] of period.units) if ((key === unit || key.startsWith(`${unit}:`)) && rate > dearestUnit) dearestUnit = rate;
    worstUsd += BigInt(count) * dearestUnit;
  }
  return run + picoCreditsOf(worstUsd);
}
