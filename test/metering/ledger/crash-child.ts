/**
 * Child process for the crash test: appends charges to the ledger in `argv[2]` as fast as the ledger
 * acknowledges them (at most 5000 unacknowledged), printing the highest acknowledged (fsynced) seq
 * after each ack, until it is killed. A checkpoint every 500 entries and at each rotation.
 */
import { Ledger } from '../../../src/metering/ledger/ledger.ts';
import { usageRecord } from './records.ts';

const ledger = await Ledger.open({ dir: process.argv[2]!, format: 1, commitWindowMs: 1, maxFileBytes: 256 * 1024, checkpointEvery: 500 });
let n = 0;
let acked = 0;
for (;;) {
  let last = null;
  for (let i = 0; i < 100; i++) last = ledger.charge(usageRecord(n++));
  const { entry, acked: done } = last!;
  const report = done.then(() => {
    acked = entry.seq;
    process.stdout.write(`${entry.seq}\n`);
  });
  if (entry.seq - acked > 5000) await report;
  else await new Promise((resolve) => setImmediate(resolve));
}
