/**
 * The price of pricing: µs per charge() (pricing/bill.ts), on the hot path of every metered request.
 *   node_modules/.bin/node bench/pricing.ts [--calls N]
 * Compares a model with only the two seed prices against one with class rates, a context tier and
 * service tiers (the catalog's GPT-6 Luna), for a cache-heavy usage, and prints the bill stamp's size.
 */
import { parseArgs } from 'node:util';
import { charge } from '../src/metering/pricing/bill.ts';
import type { ModelRecord } from '../src/catalog/types.ts';
import type { Usage } from '../src/metering/usage.ts';

const { values } = parseArgs({ options: { calls: { type: 'string', default: '500000' } } });
const CALLS = Number(values.calls);

const base = { model_id: 'bench-model', input_usd_per_1m: 1.25, output_usd_per_1m: 10 } as ModelRecord;
const subjects: [string, ModelRecord][] = [
  ['seed prices only', base],
  [
    'classes + context tier + service tiers',
    {
      ...base,
      cache_read_usd_per_1m: 0.125,
      context_tiers: [{ above_input_tokens: 272000, input_usd_per_1m: 2.5, output_usd_per_1m: 15, cache_read_usd_per_1m: 0.25 }],
      service_tiers: { flex: { input_usd_per_1m: 0.625, output_usd_per_1m: 5 }, priority: { input_usd_per_1m: 2.5, output_usd_per_1m: 20 } },
    },
  ],
];
const usage: Usage = { prompt_tokens: 2860, completion_tokens: 211, cached_tokens: 2048, reasoning_tokens: 64, source: 'reported' };

console.log(`node ${process.version}, ${CALLS.toLocaleString('en-US')} calls each`);
for (const [name, model] of subjects) {
  const run = () => charge({ usage, model, billing: 'managed', operation: 'chat', served: true, at: Date.now() });
  for (let i = 0; i < 20_000; i++) run();
  const start = process.cpuUsage();
  for (let i = 0; i < CALLS; i++) run();
  const { user, system } = process.cpuUsage(start);
  const stamp = JSON.stringify(run().bill);
  console.log(`${name.padEnd(40)} ${((user + system) / CALLS).toFixed(2)} µs CPU per charge; stamp ${Buffer.byteLength(stamp)} bytes`);
}
