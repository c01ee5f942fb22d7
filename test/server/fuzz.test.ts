/**
 * A seeded fuzz run against a real sidecar: malformed request lines and targets over raw sockets,
 * hostile headers, mangled JSON bodies, broken multipart uploads, and a fake upstream that answers
 * with mangled recordings (broken SSE, garbage JSON, error events, cut streams, absurd usage). After a
 * bounded number of cases: the process is alive, /readyz is ok, no request got a 500, and
 * `tollbooth ledger verify` passes on the ledger the run wrote.
 *
 * TB_FUZZ_SEED picks the seed (the failing one is printed), TB_FUZZ_CASES the number of cases.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { chunkLines, fixtureJson, sseFrames } from '../support/fixtures.ts';
import { FakeUpstream, type Reply } from '../support/fake-upstream.ts';
import { CALLER_KEYS, startTestGateway, type TestGateway } from '../support/gateway.ts';
import { rawHttp, rawRequest } from '../support/raw-http.ts';

const NODE = new URL('../../node_modules/.bin/node', import.meta.url).pathname;
const CLI = new URL('../../src/cli.ts', import.meta.url).pathname;
const SEED = Number(process.env.TB_FUZZ_SEED ?? 20261207);
const CASES = Number(process.env.TB_FUZZ_CASES ?? 1000);
const PARALLEL = 4;

/** mulberry32: small, fast, and the same sequence for the same seed on every machine. */
function rng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n: number) => Math.floor(next() * n);
  const pick = <T,>(items: readonly T[]): T => items[int(items.length)]!;
  const bytes = (n: number) => Buffer.from(Array.from({ length: n }, () => int(256)));
  return { next, int, pick, bytes };
}
type Rng = ReturnType<typeof rng>;

const OPENAI_TEXT = fixtureJson('openai/openai-text.json');
const OPENAI_FRAMES = sseFrames(chunkLines('openai/openai-text.chunks.txt'), { done: true });
const ANTHROPIC_TEXT = fixtureJson('anthropic/anthropic-text.json');
const ANTHROPIC_FRAMES = sseFrames(chunkLines('anthropic/anthropic-text.chunks.txt'), { eventFromType: true });

// ---- what a hostile upstream answers -------------------------------------------------------------

function mangleText(r: Rng, text: string): string {
  switch (r.int(6)) {
    case 0:
      return text.slice(0, r.int(text.length));
    case 1:
      return text.replace(/\d+/g, () => r.pick(['-1', '1e308', '99999999999999999999', 'NaN', '"7"', 'null']));
    case 2:
      return text.replace(/"[a-z_]+":/, '"__proto__":');
    case 3:
      return r.bytes(r.int(64)).toString('latin1');
    case 4:
      return text.replaceAll(':', r.pick([':', '::', ': ']));
    default:
      return text;
  }
}

function hostileReply(r: Rng, streamed: boolean, anthropic: boolean): Reply {
  const frames = anthropic ? ANTHROPIC_FRAMES : OPENAI_FRAMES;
  const json = anthropic ? ANTHROPIC_TEXT : OPENAI_TEXT;
  const kind = r.int(8);
  const headers = { 'content-type': streamed ? 'text/event-stream' : 'application/json' };
  if (kind === 0) return { status: 200, headers, body: mangleText(r, JSON.stringify(json)) };
  if (kind === 1) return { status: r.pick([200, 400, 401, 404, 429, 500, 502, 503, 529]), headers: { 'content-type': 'application/json' }, json: { error: { message: 'x'.repeat(r.int(5000)), type: 'fuzz' } } };
  if (kind === 2) return { status: 200, headers: { 'content-type': 'text/html' }, body: '<html>' + r.bytes(r.int(200)).toString('latin1') };
  if (kind === 3) {
    const usage = { prompt_tokens: r.pick([1e12, -5, 0, 3.5]), completion_tokens: r.pick([1e9, -1, 0]), total_tokens: 1, input_tokens: 1e10, output_tokens: -3 };
    return { status: 200, headers: { 'content-type': 'application/json' }, json: { ...json, usage } };
  }
  // Streams: recorded frames, mangled, reordered, cut, or with an error event inside.
  const out = frames.map((f) => (r.next() < 0.2 ? mangleText(r, f) : f));
  if (kind === 4) out.splice(r.int(out.length), 0, anthropic ? 'event: error\ndata: {"type":"error","error":{"type":"overloaded_error","message":"fuzz"}}\n\n' : 'data: {"error":{"message":"fuzz"}}\n\n');
  if (kind === 5) out.splice(r.int(out.length), 0, `data: ${'['.repeat(5000)}\n\n`, ': keep-alive\n\n', 'data:\n\n', '\n\n\n');
  if (kind === 6) out.reverse();
  return { status: 200, headers: { 'content-type': 'text/event-stream' }, frames: streamed ? out : [out.join('')], cut: r.next() < 0.3 };
}

// ---- what a hostile caller sends -----------------------------------------------------------------

const TARGETS = ['/v1/chat/completions', '/v1/embeddings', '/v1/models', '/v1/models/gpt-4.1-nano', '/v1/audio/transcriptions', '/openai/v1/chat/completions', '/anthropic/v1/messages', '/gemini/v1beta/models', '/healthz', '/readyz', '/metrics', '/credentials', '/credentials/test-temporary', '/wallets/acme'];

function fuzzTarget(r: Rng): string {
  const base = r.pick(TARGETS);
  switch (r.int(7)) {
    case 0:
      return base + '/' + r.pick(['%', '%f', '%zz', '%ff', '%c0%ae', '%00', '..', '%2e%2e', '..%2f', '\\..', '%5c', '%25%32%65']);
    case 1:
      return base + '?' + r.pick(['key=%ff', 'a=%', '=&&==', 'alt=sse&key=x', 'x=' + 'y'.repeat(r.int(9000))]);
    case 2:
      return r.pick(['*', 'http://127.0.0.1/v1/models', '//v1/models', '', '/\u00e9', '/%%%%', '/' + 'a/'.repeat(r.int(3000))]);
    case 3:
      return base.replace(/[a-z]/, (c) => c.toUpperCase());
    default:
      return base;
  }
}

function fuzzHeaders(r: Rng, key: string): string[] {
  const lines = [r.pick([`authorization: Bearer ${key}`, `x-api-key: ${key}`, `x-goog-api-key: ${key}`, `api-key: ${key}`, 'authorization: Bearer', 'authorization: Basic %ff', ''])];
  for (let i = r.int(4); i > 0; i--) {
    lines.push(
      r.pick([
        'x-organization-id: acme',
        'x-organization-id: ' + r.bytes(8).toString('hex'),
        'x-request-id: ' + r.pick(['ok-1', '../../etc', '\u00ff'.repeat(10), 'x'.repeat(300)]),
        'proxy-authorization: Basic eDp5',
        'connection: keep-alive, x-foo',
        'te: trailers',
        'expect: 100-continue',
        'content-type: ' + r.pick(['application/json', 'text/plain', 'multipart/form-data', 'multipart/form-data; boundary=', 'application/json; charset=utf-16']),
        'x-weird: ' + r.bytes(r.int(30)).toString('latin1').replace(/[\r\n]/g, ''),
        'x-long: ' + 'a'.repeat(r.int(20_000)),
      ]),
    );
  }
  return lines.filter(Boolean);
}

function deep(levels: number): string {
  return '['.repeat(levels) + ']'.repeat(levels);
}

function fuzzJson(r: Rng, model: string): string {
  const stream = r.next() < 0.5;
  const body: Record<string, unknown> = { model, messages: [{ role: 'user', content: 'hello' }], stream, max_tokens: 16 };
  if (stream && r.next() < 0.5) body.stream_options = { include_usage: true };
  const field = r.pick(['model', 'messages', 'stream', 'max_tokens', 'tools', 'response_format', 'metadata', 'temperature', 'input', 'n', 'user']);
  const value = r.pick<unknown>([null, 5, -1, 1e308, 'x', '', [], {}, [null], [{}], [{ role: 'user' }], [{ role: 'tool', content: [{ type: 'image_url' }] }], { type: 'json_schema' }, true, '\u0000', '\ud800', 'x'.repeat(r.int(50_000))]);
  if (r.next() < 0.8) body[field] = value;
  let text = JSON.stringify(body);
  switch (r.int(6)) {
    case 0:
      return text.slice(0, r.int(text.length));
    case 1:
      return text.replace('"hello"', deep(100 + r.int(2000)));
    case 2:
      return text.replace('{', '{"model":"other","model":' + JSON.stringify(model) + ',');
    case 3:
      return r.bytes(r.int(200)).toString('latin1');
    default:
      return text;
  }
}

function fuzzMultipart(r: Rng): { contentType: string; body: string } {
  const boundary = r.pick(['b0undary', '', '--', 'x'.repeat(200), 'a b']);
  const parts = [
    `--${boundary}\r\ncontent-disposition: form-data; name="model"\r\n\r\n${r.pick(['whisper-1', '', 'gpt-4.1-nano', '%ff'])}\r\n`,
    `--${boundary}\r\ncontent-disposition: form-data; name="file"; filename="${r.pick(['a.wav', '../../x', '', '\u00ff.mp3'])}"\r\ncontent-type: audio/wav\r\n\r\n${r.bytes(r.int(2000)).toString('latin1')}\r\n`,
    `--${boundary}--\r\n`,
  ];
  const body = parts
    .filter(() => r.next() < 0.85)
    .join('')
    .slice(0, r.next() < 0.2 ? r.int(500) : undefined);
  return { contentType: `multipart/form-data; boundary=${boundary}`, body };
}

/** One raw request: its bytes and where it goes. */
function fuzzCase(r: Rng, gw: TestGateway): { url: string; bytes: Buffer; label: string } {
  const kind = r.int(6);
  const key = r.pick([CALLER_KEYS.member, CALLER_KEYS.owner, 'tb-unknown-key']);
  const listener = r.next() < 0.75 ? gw.url : gw.opsUrl;
  if (kind === 0) {
    // The request line itself.
    const line = r.pick([
      `${r.pick(['GET', 'POST', 'PUT', 'DELETE', 'OPTIONS', 'TRACE', 'CONNECT', 'G\u00c9T', 'X'.repeat(100)])} ${fuzzTarget(r)} ${r.pick(['HTTP/1.1', 'HTTP/1.0', 'HTTP/2.0', 'HTTP/9', 'http/1.1', ''])}`,
      r.bytes(r.int(100)).toString('latin1'),
      'PRI * HTTP/2.0\r\n\r\nSM',
      `GET ${fuzzTarget(r)}`,
    ]);
    return { url: listener, bytes: Buffer.from(`${line}\r\nhost: x\r\nconnection: close\r\n\r\n`, 'latin1'), label: `line ${JSON.stringify(line.slice(0, 80))}` };
  }
  if (kind === 1 || kind === 2) {
    const target = kind === 1 ? fuzzTarget(r) : r.pick(['/v1/chat/completions', '/v1/embeddings', '/anthropic/v1/messages', '/openai/v1/chat/completions', '/credentials/test-temporary']);
    const model = r.pick(['gpt-4.1-nano', 'claude-sonnet-5.5', 'text-embedding-3-small', 'no-such-model']);
    const body = fuzzJson(r, model);
    const headers = fuzzHeaders(r, key);
    if (!headers.some((h) => h.startsWith('content-type'))) headers.push('content-type: application/json');
    if (r.next() < 0.1) headers.push('transfer-encoding: chunked');
    const declared = r.next() < 0.1 ? Buffer.byteLength(body, 'latin1') + r.int(20) - 10 : Buffer.byteLength(body, 'latin1');
    const head = [`POST ${target} HTTP/1.1`, 'host: x', 'connection: close', `content-length: ${declared}`, ...headers].join('\r\n');
    const url = target.startsWith('/credentials') ? gw.opsUrl : gw.url;
    return { url, bytes: Buffer.from(`${head}\r\n\r\n${body}`, 'latin1'), label: `json ${target} ${body.slice(0, 60)}` };
  }
  if (kind === 3) {
    const { contentType, body } = fuzzMultipart(r);
    const target = r.pick(['/v1/audio/transcriptions', '/openai/v1/audio/transcriptions']);
    return { url: gw.url, bytes: Buffer.from(rawHttp('POST', target, { authorization: `Bearer ${key}`, 'content-type': contentType, 'content-length': String(Buffer.byteLength(body, 'latin1')) }, body), 'latin1'), label: `multipart ${target}` };
  }
  // A well-formed request the hostile upstream will answer.
  const anthropic = r.next() < 0.4;
  const stream = r.next() < 0.6;
  const passthrough = r.next() < 0.3;
  const target = passthrough ? (anthropic ? '/anthropic/v1/messages' : '/openai/v1/chat/completions') : '/v1/chat/completions';
  const model = anthropic ? 'claude-sonnet-5.5' : 'gpt-4.1-nano';
  const body = JSON.stringify({ model: passthrough && !anthropic ? 'gpt-4.1-nano-2025-04-14' : model, max_tokens: 16, stream, ...(stream && !anthropic ? { stream_options: { include_usage: true } } : {}), messages: [{ role: 'user', content: `fuzz ${r.int(1e9)}` }] });
  return { url: gw.url, bytes: Buffer.from(rawHttp('POST', target, { authorization: `Bearer ${CALLER_KEYS.member}`, 'content-type': 'application/json', 'anthropic-version': '2023-06-01' }, body)), label: `upstream ${target} stream=${stream}` };
}

describe(`fuzz (seed ${SEED}, ${CASES} cases)`, () => {
  let upstream: FakeUpstream;
  let gw: TestGateway;
  const r = rng(SEED);
  const upstreamRng = rng(SEED ^ 0x5eed);

  before(async () => {
    upstream = await FakeUpstream.start();
    upstream.on('POST', /\/v1\/(chat\/completions|messages|embeddings|audio\/transcriptions)/, (req) => {
      const body = (() => {
        try {
          return req.json();
        } catch {
          return {};
        }
      })();
      return hostileReply(upstreamRng, body.stream === true, req.path.endsWith('/messages'));
    });
    upstream.on('GET', /models/, (req) => (upstreamRng.next() < 0.5 ? { json: { object: 'list', data: [] } } : hostileReply(upstreamRng, false, req.path.includes('anthropic'))));
    gw = await startTestGateway({
      upstream,
      config: {
        // Short enough that a stalled fuzz body or upstream cannot stretch the run.
        limits: { headers_timeout_ms: 2000, request_timeout_ms: 5000, body_idle_timeout_ms: 1000 },
        ...(process.env.TB_FUZZ_LOG ? { log: { level: process.env.TB_FUZZ_LOG } } : {}),
        upstream: { connect_timeout_ms: 1000, headers_timeout_ms: 3000, body_timeout_ms: 3000, keep_alive_timeout_ms: 1000, connections: 16 },
      },
    });
  });
  after(async () => {
    await gw?.close();
    await upstream?.close();
  });

  test('no case gets a 500; afterwards the sidecar is alive and ready and its ledger verifies', async () => {
    const cases = Array.from({ length: CASES }, () => fuzzCase(r, gw));
    const failures: string[] = [];
    // In a real sidecar either of these ends the process.
    const crashed = (err: unknown) => failures.push(`process-level: ${(err as Error)?.stack ?? String(err)}`);
    process.on('uncaughtException', crashed);
    process.on('unhandledRejection', crashed);
    let next = 0;
    const statuses = new Map<number, number>();
    const worker = async () => {
      while (next < cases.length) {
        const i = next++;
        const c = cases[i]!;
        const answer = await rawRequest(c.url, c.bytes, 10_000);
        statuses.set(answer.status, (statuses.get(answer.status) ?? 0) + 1);
        // An upstream's own 500 is passed on (as is to a passthrough caller, as an upstream error to a
        // unified one); what must never happen is the gateway's own internal error.
        const internal = /"internal_error"|"detail":"internal error"/.test(answer.body) || (answer.status === 500 && !/"fuzz"|"upstream_/.test(answer.body));
        if (internal) failures.push(`case ${i} (${c.label}): ${answer.status} ${answer.body.slice(0, 200)}`);
      }
    };
    await Promise.all(Array.from({ length: PARALLEL }, worker));
    process.off('uncaughtException', crashed);
    process.off('unhandledRejection', crashed);
    assert.deepEqual(failures, [], `seed ${SEED}: statuses ${JSON.stringify([...statuses])}`);

    const ready = await fetch(`${gw.opsUrl}/readyz`);
    assert.equal(ready.status, 200, await ready.text());
    assert.equal((await fetch(`${gw.url}/v1/models`, { headers: { authorization: `Bearer ${CALLER_KEYS.member}` } })).status, 200);

    await gw.gateway.recorder.flush();
    const verify = spawnSync(NODE, [CLI, 'ledger', 'verify', '--dir', join(gw.dir, 'data')], { encoding: 'utf8' });
    assert.equal(verify.status, 0, verify.stdout + verify.stderr);
  });
});
