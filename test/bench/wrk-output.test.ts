/** The harness reads wrk's report (used instead of autocannon when wrk is on the PATH). */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseWrk } from '../../bench/load.ts';

// The layout wrk 4.x prints with --latency.
const REPORT = `Running 5s test @ http://127.0.0.1:40211/v1/chat/completions
  2 threads and 50 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     1.74ms  512.33us  12.00ms   85.00%
    Req/Sec    14.40k     1.20k   16.00k    70.00%
  Latency Distribution
     50%  174.00us
     75%    1.90ms
     90%    2.30ms
     99%    3.52ms
  143210 requests in 5.00s, 400.12MB read
  Socket errors: connect 0, read 2, write 0, timeout 1
  Non-2xx or 3xx responses: 10
Requests/sec:  28642.00
Transfer/sec:     80.02MB
`;

test('wrk’s report becomes 2xx responses per second, percentiles in µs and the failures', () => {
  assert.deepEqual(parseWrk(REPORT, 50, 5), {
    connections: 50,
    durationS: 5,
    requests: 143200,
    rps: 28640,
    non2xx: 10,
    errors: 3,
    p50Us: 174,
    p99Us: 3520,
  });
});

test('a report without a request count is an error, not zeros', () => {
  assert.throws(() => parseWrk('unable to connect to 127.0.0.1:1 Connection refused\n', 1, 1), /could not read wrk/);
});
