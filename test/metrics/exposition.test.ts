/**
 * /metrics as Prometheus reads it (issue 17, item 11): gzip when the scraper asks for it, process
 * and Node.js metrics under prom-client's standard names (what stock dashboards query), and an
 * exposition `promtool check metrics` has nothing to say about.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { request } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { gunzipSync } from 'node:zlib';
import { fixtureJson } from '../support/fixtures.ts';
import { FakeUpstream } from '../support/fake-upstream.ts';
import { startTestGateway, type TestGateway } from '../support/gateway.ts';

const hasPromtool = spawnSync('promtool', ['--version'], { encoding: 'utf8' }).status === 0;
const NO_PROMTOOL = 'promtool is not on the PATH (Debian: apt-get install prometheus)';

/** A raw GET (fetch would decompress behind our back): status, headers and the bytes as sent. */
function get(url: string, headers: Record<string, string>): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: Buffer }> {
  return new Promise((resolve, reject) => {
    request(url, { headers }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (c: Buffer) => parts.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(parts) }));
      res.on('error', reject);
    })
      .on('error', reject)
      .end();
  });
}

describe('the /metrics exposition', () => {
  let upstream: FakeUpstream;
  let gw: TestGateway;

  before(async () => {
    upstream = await FakeUpstream.start();
    upstream.on('POST', '/v1/chat/completions', { json: fixtureJson('openai/openai-text.json') });
    gw = await startTestGateway({ upstream });
    await gw.openai().chat.completions.create({ model: 'gpt-4.1-nano', messages: [{ role: 'user', content: 'Hello' }] });
  });
  after(async () => {
    await gw?.close();
    await upstream?.close();
  });

  test('is gzipped when Prometheus asks for it (its own Accept-Encoding), plain otherwise', async () => {
    const url = `${gw.opsUrl}/metrics`;
    const zipped = await get(url, { 'accept-encoding': 'gzip', accept: 'text/plain;version=0.0.4;q=1,*/*;q=0.1' });
    assert.equal(zipped.status, 200);
    assert.equal(zipped.headers['content-encoding'], 'gzip');
    assert.match(String(zipped.headers.vary), /accept-encoding/i);
    assert.equal(Number(zipped.headers['content-length']), zipped.body.length);
    const text = gunzipSync(zipped.body).toString('utf8');
    assert.match(text, /^# HELP /m);
    assert.ok(zipped.body.length * 4 < Buffer.byteLength(text), `${zipped.body.length} gzipped bytes for ${Buffer.byteLength(text)}`);

    const plain = await get(url, {});
    assert.equal(plain.headers['content-encoding'], undefined);
    assert.match(plain.body.toString('utf8'), /^# HELP /m);
    const refused = await get(url, { 'accept-encoding': 'gzip;q=0, identity' });
    assert.equal(refused.headers['content-encoding'], undefined, 'gzip;q=0 means not gzip');
  });

  test('process and Node.js metrics carry prom-client’s standard names', async () => {
    const text = await gw.metrics();
    for (const name of ['process_cpu_seconds_total', 'process_resident_memory_bytes', 'process_start_time_seconds', 'nodejs_heap_size_used_bytes', 'nodejs_eventloop_lag_p99_seconds']) {
      assert.match(text, new RegExp(`^# TYPE ${name} `, 'm'), name);
    }
    assert.doesNotMatch(text, /^tollbooth_process_/m, 'no double prefix');
  });

  test(hasPromtool ? 'promtool check metrics finds nothing to report' : `promtool check metrics (skipped: ${NO_PROMTOOL})`, { skip: !hasPromtool && NO_PROMTOOL }, async () => {
    const check = spawnSync('promtool', ['check', 'metrics'], { input: await gw.metrics(), encoding: 'utf8' });
    assert.equal(check.stdout + check.stderr, '');
    assert.equal(check.status, 0);
  });
});
