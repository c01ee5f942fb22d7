/**
 * The access log: one JSON line per request at its end, carrying the id the caller got back in
 * `x-request-id`, and never a key, a prompt or an answer.
 */
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { createLogger } from '../../src/util/log.ts';
import { logAccess } from '../../src/server/access-log.ts';
import type { RequestContext } from '../../src/server/services.ts';
import { FakeUpstream } from '../support/fake-upstream.ts';
import { fixtureJson } from '../support/fixtures.ts';
import { CALLER_KEYS, providerKey, startTestGateway, type TestGateway } from '../support/gateway.ts';

/** Captures every line a pino logger writes. */
function captureLog(level: string) {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk, _encoding, done) {
      lines.push(...String(chunk).split('\n').filter(Boolean));
      done();
    },
  });
  return { logger: createLogger(level, stream), lines };
}

const recorded = fixtureJson('openai/openai-text.json');
const PROMPT = 'a prompt that must never reach the log 7f3a';

describe('access log', () => {
  let upstream: FakeUpstream;
  let gw: TestGateway;
  const log = captureLog('info');

  const accessLines = () => log.lines.map((l) => JSON.parse(l)).filter((l) => l.msg === 'request');
  async function accessLineFor(requestId: string) {
    for (let i = 0; i < 100; i++) {
      const found = accessLines().filter((l) => l.request_id === requestId);
      if (found.length > 0) return found;
      // The line is written when the response closes, which can follow the client's last byte.
      await new Promise((r) => setTimeout(r, 10));
    }
    assert.fail(`no access line for ${requestId}`);
  }

  before(async () => {
    upstream = await FakeUpstream.start();
    upstream.on('POST', '/v1/chat/completions', { json: recorded });
    gw = await startTestGateway({ upstream, logger: log.logger });
  });
  after(async () => {
    await gw.close();
    await upstream.close();
  });

  test('a unified call leaves one line with the request id returned to the caller, route, provider, model, status, duration', async () => {
    const { response } = await gw
      .openai()
      .chat.completions.create({ model: 'gpt-4.1-nano', messages: [{ role: 'user', content: PROMPT }] })
      .withResponse();
    const id = response.headers.get('x-request-id');
    assert.ok(id, 'the caller got an x-request-id');

    const lines = await accessLineFor(id);
    assert.equal(lines.length, 1);
    const line = lines[0];
    assert.equal(line.method, 'POST');
    assert.equal(line.path, '/v1/chat/completions');
    assert.equal(line.route, 'unified');
    assert.equal(line.operation, 'chat');
    assert.equal(line.provider, 'openai');
    assert.equal(line.model, gw.catalog().resolve('gpt-4.1-nano').model.model_id, 'the catalog model served (deprecations followed)');
    assert.equal(line.status, 200);
    assert.equal(typeof line.duration_ms, 'number');
    assert.ok(line.duration_ms > 0);
    assert.equal(line.level, 30, 'info level');
  });

  test('a native passthrough call keeps a caller-supplied request id, in the header and in the log', async () => {
    const res = await fetch(`${gw.url}/openai/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${CALLER_KEYS.member}`, 'content-type': 'application/json', 'x-request-id': 'trace-abc.123' },
      body: JSON.stringify({ model: 'gpt-4.1-nano', messages: [{ role: 'user', content: PROMPT }] }),
    });
    await res.text();
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('x-request-id'), 'trace-abc.123');
    const [line] = await accessLineFor('trace-abc.123');
    assert.equal(line.route, 'native');
    assert.equal(line.provider, 'openai');
    assert.equal(line.model, 'gpt-4.1-nano', 'the catalog model behind the upstream model name');
    assert.equal(line.status, 200);
  });

  test('a refused call is logged with its status, and the wrong key it carried is not', async () => {
    const res = await fetch(`${gw.url}/v1/chat/completions?key=tb-wrong-key-in-query`, {
      method: 'POST',
      headers: { 'x-api-key': 'tb-wrong-key-9d2c', 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'gpt-4.1-nano', messages: [{ role: 'user', content: PROMPT }] }),
    });
    await res.text();
    assert.equal(res.status, 401);
    const [line] = await accessLineFor(res.headers.get('x-request-id')!);
    assert.equal(line.status, 401);
    assert.equal(line.path, '/v1/chat/completions', 'no query string');
  });

  test('no line carries a key, a prompt, an answer or a header', () => {
    const all = log.lines.join('\n');
    for (const secret of [CALLER_KEYS.member, providerKey('openai'), 'tb-wrong-key-9d2c', 'tb-wrong-key-in-query', PROMPT, 'Galaxy Day']) {
      assert.ok(!all.includes(secret), `the log does not contain ${secret}`);
    }
    for (const line of accessLines()) {
      assert.deepEqual(Object.keys(line).sort(), [
        'duration_ms', 'level', 'method', 'model', 'msg', 'operation', 'path', 'provider', 'request_id', 'route', 'service', 'status', 'time',
      ]);
    }
    assert.equal(new Set(accessLines().map((l) => l.request_id)).size, accessLines().length, 'one line per request');
  });
});

describe('access log level gating', () => {
  test('above info, nothing is written', () => {
    const log = captureLog('warn');
    const ctx = {
      id: 'r1',
      path: '/v1/models',
      startedAt: performance.now(),
      labels: { api: 'unified', operation: 'models', provider: 'none', model: 'none' },
      services: { accessLog: log.logger },
    } as unknown as RequestContext;
    logAccess(ctx, 'GET', 200);
    assert.deepEqual(log.lines, []);
  });
});

describe('log redaction', () => {
  test('headers that carry keys and secret-named fields are censored wherever a headers object is logged', () => {
    const log = captureLog('info');
    log.logger.info(
      {
        headers: { authorization: 'Bearer sk-top-1', 'x-api-key': 'sk-top-2', host: 'example' },
        req: { headers: { 'x-goog-api-key': 'AIza-3', 'api-key': 'azure-4', cookie: 'session=5' } },
        upstream: { headers: { 'x-amz-security-token': 'sts-6' } },
        credential: { id: 'openai', secret: 'sk-7', token: 'tok-8' },
      },
      'redaction check',
    );
    const line = log.lines.join('\n');
    for (const secret of ['sk-top-1', 'sk-top-2', 'AIza-3', 'azure-4', 'session=5', 'sts-6', 'sk-7', 'tok-8']) {
      assert.ok(!line.includes(secret), `${secret} is redacted`);
    }
    const parsed = JSON.parse(line);
    assert.equal(parsed.headers.host, 'example', 'other headers stay');
    assert.equal(parsed.credential.id, 'openai', 'other fields stay');
    assert.equal(parsed.headers.authorization, '[redacted]');
  });
});
