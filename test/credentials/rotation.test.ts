/**
 * Zero-downtime rotation of a mounted Secret, through the real sidecar: hundreds of requests in
 * flight (the official openai SDK, streamed and not, slow upstream answers), the key file swapped
 * exactly as the kubelet does it, the new key verified by the provider's validation call first.
 * Then the refusals: a new key the provider rejects (as OpenAI, xAI and Mistral answer a bad key,
 * from _transcribed/error-bodies-from-public-reports.json) is never activated.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { request } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { createLogger } from '../../src/util/log.ts';
import { FakeUpstream, type SeenRequest } from '../support/fake-upstream.ts';
import { chunkLines, fixtureJson, sseFrames } from '../support/fixtures.ts';
import { CALLER_KEYS, startTestGateway, type TestGateway } from '../support/gateway.ts';
import { KubeletVolume } from '../support/kubelet-volume.ts';

const key = (label: string) => `sk-${label}-${randomBytes(12).toString('hex')}`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const RECORDED = fixtureJson('openai/openai-text.json');
const RECORDED_FRAMES = sseFrames(chunkLines('openai/openai-text.chunks.txt'), { done: true });
const EXPECTED_TEXT: string = RECORDED.choices[0].message.content;
const EXPECTED_STREAMED = chunkLines('openai/openai-text.chunks.txt')
  .map((l) => JSON.parse(l).choices?.[0]?.delta?.content ?? '')
  .join('');

interface Transcribed {
  provider: string;
  status: number;
  headers: Record<string, string>;
  body: unknown;
}
const reported: Transcribed[] = fixtureJson('_transcribed/error-bodies-from-public-reports.json').errors;
const badKeyAnswer = (provider: string, status: number) => reported.find((e) => e.provider === provider && e.status === status)!;

/** The fake provider: validation calls accept only `valid` keys; chat calls are slow and remember their key. */
class Provider {
  readonly valid = new Set<string>();
  /** Bad-key answer per key prefix (the provider whose key it is). */
  readonly refusals = new Map<string, Transcribed>();
  /** `arrived`: the call's rank among all calls; `at`: performance.now() (the sidecar runs in this process). */
  readonly chats: { n: number; key: string; arrived: number; at: number }[] = [];
  /** `answered`: how many calls had arrived when the check was answered, and when (performance.now()). */
  readonly validations: { key: string; arrived: number; answered: number; answeredAt: number; inFlight: number }[] = [];
  /** Keys whose validation answer is held back, so requests keep starting while the check runs. */
  readonly slow = new Set<string>();
  inFlight = 0;
  maxInFlight = 0;
  #arrivals = 0;

  constructor(fake: FakeUpstream) {
    const validate = async (req: SeenRequest) => {
      const presented = bearer(req);
      const record = { key: presented, arrived: ++this.#arrivals, answered: 0, answeredAt: 0, inFlight: 0 };
      this.validations.push(record);
      if (this.slow.has(presented)) await sleep(300);
      record.answered = this.#arrivals;
      record.answeredAt = performance.now();
      record.inFlight = this.inFlight;
      if (this.valid.has(presented)) return { json: { object: 'list', data: [] } };
      const refusal = [...this.refusals].find(([prefix]) => presented.startsWith(prefix))?.[1] ?? badKeyAnswer('openai', 401);
      return { status: refusal.status, headers: refusal.headers, json: refusal.body };
    };
    fake.on('GET', '/v1/models', validate).on('GET', '/v1/api-key', validate);
    fake.on('POST', '/v1/chat/completions', async (req) => {
      const body = req.json();
      this.chats.push({ n: Number(String(body.messages[0].content).slice('request '.length)), key: bearer(req), arrived: ++this.#arrivals, at: performance.now() });
      this.inFlight++;
      this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
      try {
        // Answer times spread over 60–260 ms, so the load does not fall into lockstep waves.
        await sleep(60 + ((this.chats.length * 37) % 200));
        return body.stream ? { headers: { 'content-type': 'text/event-stream' }, frames: RECORDED_FRAMES } : { json: RECORDED };
      } finally {
        this.inFlight--;
      }
    });
  }

  keyOf(n: number): string | undefined {
    return this.chats.find((c) => c.n === n)?.key;
  }
}

function bearer(req: SeenRequest): string {
  return String(req.headers.authorization ?? '').replace(/^Bearer /, '');
}

function metricValue(text: string, name: string, labels: Record<string, string>): number {
  const wanted = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  const line = text.split('\n').find((l) => l.startsWith(`${name}{`) && wanted.every((w) => l.includes(w)));
  return line ? Number(line.slice(line.lastIndexOf(' ') + 1)) : 0;
}

async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

describe('rotating a mounted provider key under load', () => {
  let fake: FakeUpstream;
  let provider: Provider;
  let gw: TestGateway;
  let dir: string;
  let volumes: Record<'openai' | 'xai' | 'mistral', KubeletVolume>;
  const logs = new PassThrough();
  const logLines: string[] = [];
  logs.on('data', (chunk: Buffer) => logLines.push(...chunk.toString('utf8').split('\n').filter(Boolean)));
  const OLD = key('old');
  const NEW = key('new');
  const XAI = `xai-${randomBytes(12).toString('hex')}`;
  const MISTRAL = `mistral-${randomBytes(12).toString('hex')}`;

  before(async () => {
    fake = await FakeUpstream.start();
    provider = new Provider(fake);
    for (const k of [OLD, NEW, XAI, MISTRAL]) provider.valid.add(k);
    provider.refusals.set('xai-', badKeyAnswer('xai', 400));
    provider.refusals.set('mistral-', badKeyAnswer('mistral', 401));
    dir = mkdtempSync(join(tmpdir(), 'tollbooth-secrets-'));
    volumes = {
      openai: new KubeletVolume(join(dir, 'openai'), { 'api-key': `${OLD}\n` }),
      xai: new KubeletVolume(join(dir, 'xai'), { 'api-key': XAI }),
      mistral: new KubeletVolume(join(dir, 'mistral'), { 'api-key': MISTRAL }),
    };
    gw = await startTestGateway({
      upstream: fake,
      credentials: {
        openai: { secret: { file: volumes.openai.path('api-key') } },
        xai: { secret: { file: volumes.xai.path('api-key') } },
        mistral: { secret: { file: volumes.mistral.path('api-key') } },
      },
      config: { watch: { debounce_ms: 20, poll_interval_ms: 250 } },
      logger: createLogger('info', logs),
    });
  });
  after(async () => {
    await gw.close();
    await fake.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('hundreds of requests in flight across the swap: none fails, old key before it, new key after it', async () => {
    const client = gw.openai(CALLER_KEYS.member);
    const CONCURRENCY = 250;
    const sent: { at: number; done: number }[] = [];
    let stop = false;
    const failures: string[] = [];
    const worker = async () => {
      while (!stop) {
        const n = sent.length;
        sent.push({ at: performance.now(), done: Infinity });
        const messages = [{ role: 'user' as const, content: `request ${n}` }];
        try {
          if (n % 8 === 0) {
            let text = '';
            for await (const chunk of await client.chat.completions.create({ model: 'gpt-4.1-nano', stream: true, messages })) text += chunk.choices[0]?.delta?.content ?? '';
            if (text !== EXPECTED_STREAMED) failures.push(`${n}: streamed text differs`);
          } else {
            const answer = await client.chat.completions.create({ model: 'gpt-4.1-nano', messages });
            if (answer.choices[0]?.message.content !== EXPECTED_TEXT) failures.push(`${n}: text differs`);
          }
        } catch (err) {
          failures.push(`${n}: ${(err as Error).message}`);
        }
        sent[n]!.done = performance.now();
      }
    };
    const workers = Array.from({ length: CONCURRENCY }, worker);
    let fileChangedAt = 0;
    let swapSeenAt = 0;
    let firstAfterSwap = Infinity;
    provider.slow.add(NEW);
    try {
      await until('steady load', () => provider.chats.length >= 250, 20_000);
      fileChangedAt = performance.now();
      volumes.openai.update({ 'api-key': `${NEW}\n` });
      // The first request to reach the provider with the new key proves the swap has happened.
      await until('the verified swap', () => provider.chats.some((c) => c.key === NEW));
      swapSeenAt = performance.now();
      firstAfterSwap = sent.length;
      await until('load after the swap', () => provider.chats.some((c) => c.n >= firstAfterSwap + 250), 20_000);
    } finally {
      stop = true;
      await Promise.all(workers);
    }

    assert.deepEqual(failures, [], 'zero failed requests');
    const validation = provider.validations.find((v) => v.key === NEW);
    assert.ok(validation, 'the new key was verified with the validation call');
    // The swap happened after the check was answered and before the first new-key call arrived:
    // a request sent before the former and finished after the latter was in flight across it.
    const firstNewAt = Math.min(...provider.chats.filter((c) => c.key === NEW).map((c) => c.at));
    const acrossSwap = sent.filter((r) => r.at < validation.answeredAt && r.done > firstNewAt).length;
    assert.ok(acrossSwap >= 150, `hundreds of requests in flight across the swap (${acrossSwap})`);
    let old = 0;
    for (let n = 0; n < sent.length; n++) {
      const used = provider.keyOf(n);
      assert.ok(used === OLD || used === NEW, `request ${n} reached the provider with the old or the new key`);
      if (used === OLD) old++;
      if (n >= firstAfterSwap) assert.equal(used, NEW, `request ${n}, sent after the swap was seen, used the new key`);
    }
    // Every request that reached the provider before the verification was answered had started
    // before the swap (the swap waits for that answer): all of them used the old key, including
    // those that started while the check was running.
    const beforeAnswer = provider.chats.filter((c) => c.n < sent.length && c.arrived <= validation.answered);
    for (const c of beforeAnswer) assert.equal(c.key, OLD, `request ${c.n} reached the provider before the new key was verified`);
    const duringCheck = beforeAnswer.filter((c) => c.arrived > validation.arrived).length;
    assert.ok(duringCheck > 0, 'requests kept starting while the new key was being checked');
    assert.equal(metricValue(await gw.metrics(), 'tollbooth_credential_rotations_total', { credential: 'openai', result: 'rotated' }), 1);
    assert.ok(old >= 250 && sent.length - old >= 250, `both keys served (${old} old, ${sent.length - old} new)`);
    assert.ok(!logLines.some((l) => l.includes(OLD) || l.includes(NEW)), 'no key in the logs');
    const rotated = logLines.map((l) => JSON.parse(l)).find((l) => l.msg.startsWith('credential rotated'));
    assert.equal(rotated?.credential, 'openai');
    console.log(
      `rotation under load: ${sent.length} requests (${CONCURRENCY} concurrent), ${acrossSwap} in flight across the swap ` +
        `(${validation.inFlight} at the provider when the check was answered, ${duringCheck} reached it during the check, ` +
        `swap within ${(firstNewAt - validation.answeredAt).toFixed(1)} ms of the answer), ` +
        `${old} old key, ${sent.length - old} new key, swap seen ${(swapSeenAt - fileChangedAt).toFixed(0)} ms after the file change`,
    );
  });

  test('a request that started before the swap keeps the old key even if its body arrives after it', async () => {
    const THIRD = key('third');
    provider.valid.add(THIRD);
    const url = new URL(gw.url);
    const body = JSON.stringify({ model: 'gpt-4.1-nano', messages: [{ role: 'user', content: 'request 1000000' }] });
    // Headers and the first bytes of the body now; the rest only after the swap.
    const req = request({
      host: url.hostname,
      port: url.port,
      method: 'POST',
      path: '/v1/chat/completions',
      headers: { authorization: `Bearer ${CALLER_KEYS.member}`, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
    });
    const answer = new Promise<{ status: number; text: string }>((resolve, reject) => {
      req.on('response', (res) => {
        let text = '';
        res.on('data', (c: Buffer) => (text += c.toString('utf8')));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
      });
      req.on('error', reject);
    });
    req.write(body.slice(0, 10));
    await sleep(100);
    volumes.openai.update({ 'api-key': THIRD });
    await until('the second verified swap', async () => metricValue(await gw.metrics(), 'tollbooth_credential_rotations_total', { credential: 'openai', result: 'rotated' }) === 2);
    const after = await gw.openai().chat.completions.create({ model: 'gpt-4.1-nano', messages: [{ role: 'user', content: 'request 1000001' }] });
    assert.equal(after.choices[0]?.message.content, EXPECTED_TEXT);
    req.end(body.slice(10));
    const result = await answer;
    assert.equal(result.status, 200);
    assert.equal(provider.keyOf(1_000_000), NEW, 'the slow request kept the key of the runtime it started under');
    assert.equal(provider.keyOf(1_000_001), THIRD, 'a request started after the swap took the new key at once');
  });

  test('a new key the provider refuses is not activated: the old one keeps serving, a metric and a log line say why', async () => {
    const cases = [
      { name: 'openai', model: 'gpt-4.1-nano', path: '/v1/models', bad: key('revoked'), status: 401, code: 'invalid_api_key' },
      { name: 'xai', model: 'grok-3-mini', path: '/v1/api-key', bad: `xai-${randomBytes(12).toString('hex')}`, status: 400, code: null },
      { name: 'mistral', model: 'mistral-small-latest', path: '/v1/models', bad: `mistral-${randomBytes(12).toString('hex')}`, status: 401, code: null },
    ] as const;
    const active = { openai: provider.keyOf(1_000_001)!, xai: XAI, mistral: MISTRAL };
    fake.on('POST', '/v1/chat/completions', (req) => {
      const body = req.json();
      provider.chats.push({ n: Number(String(body.messages[0].content).slice('request '.length)), key: bearer(req), arrived: 0, at: performance.now() });
      return { json: RECORDED };
    });
    for (const c of cases) {
      const before = provider.validations.length;
      volumes[c.name].update({ 'api-key': c.bad });
      await until(`${c.name} rejection`, async () => metricValue(await gw.metrics(), 'tollbooth_credential_rotations_total', { credential: c.name, result: 'rejected' }) === 1);
      const checked = provider.validations.slice(before);
      assert.deepEqual(checked.map((v) => v.key), [c.bad], `${c.name}: the new key was checked once`);
      const n = 2_000_000 + cases.indexOf(c);
      await gw.openai().chat.completions.create({ model: c.model, messages: [{ role: 'user', content: `request ${n}` }] });
      assert.equal(provider.keyOf(n), active[c.name], `${c.name}: the previous key still serves`);
      const line = logLines.map((l) => JSON.parse(l)).find((l) => l.credential === c.name && l.msg.includes('failed verification'));
      assert.ok(line, `${c.name}: a log line`);
      assert.match(line.reason, new RegExp(`HTTP ${c.status}${c.code ? ` \\(${c.code}\\)` : ''}`));
    }
    const metrics = await gw.metrics();
    assert.equal(metricValue(metrics, 'tollbooth_credential_verifications_total', { provider: 'openai', result: 'invalid' }), 1);
    assert.ok(!logLines.some((l) => cases.some((c) => l.includes(c.bad))), 'no refused key in the logs');
    assert.ok(!metrics.includes(cases[0].bad));

    // A poll and a config reload later, the refused key is still not active: nothing re-reads it into use.
    await sleep(400);
    const reload = await gw.gateway.reload('test');
    assert.equal(reload.ok, true);
    await gw.openai().chat.completions.create({ model: 'gpt-4.1-nano', messages: [{ role: 'user', content: 'request 2000010' }] });
    assert.equal(provider.keyOf(2_000_010), active.openai);
    assert.equal(metricValue(await gw.metrics(), 'tollbooth_credential_verifications_total', { provider: 'openai', result: 'invalid' }), 1, 'the refused key was not verified again');

    // The next good key is taken as usual.
    const GOOD = key('good');
    provider.valid.add(GOOD);
    volumes.openai.update({ 'api-key': GOOD });
    await until('the good key', async () => metricValue(await gw.metrics(), 'tollbooth_credential_rotations_total', { credential: 'openai', result: 'rotated' }) === 3);
    await gw.openai().chat.completions.create({ model: 'gpt-4.1-nano', messages: [{ role: 'user', content: 'request 2000011' }] });
    assert.equal(provider.keyOf(2_000_011), GOOD);
  });
});
