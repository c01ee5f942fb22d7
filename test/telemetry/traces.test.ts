/**
 * OpenTelemetry traces end to end: a real sidecar process with tracing turned on by the standard
 * OTEL_* variables, the openai SDK as the caller (with and without its own traceparent), recorded
 * OpenAI answers from a fake upstream, and a local OTLP/HTTP receiver. Checked: the server span and
 * one client span per attempt, their parent/child links to the caller's trace, the traceparent each
 * upstream attempt received, the GenAI and tollbooth.* attributes against the ledger's charge, and
 * that spans end (and are flushed) on every path. With tracing off nothing is invented upstream.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { execFile } from 'node:child_process';
import { rmSync } from 'node:fs';
import { promisify } from 'node:util';
import OpenAI from 'openai';
import { chunkLines, fixtureJson, sseFrames } from '../support/fixtures.ts';
import { FakeUpstream, type Reply } from '../support/fake-upstream.ts';
import { CALLER_KEYS, ledgerCharges, providerKey, startTestGateway, writeTestConfig } from '../support/gateway.ts';
import { startChildGateway, type ChildGateway } from '../support/child-gateway.ts';
import { OtlpReceiver, type ReceivedSpan } from '../support/otlp-receiver.ts';
import type { UsageRecord } from '../../src/metering/record.ts';

const MODEL = 'gpt-6-luna';
/** Deprecated in the catalog, replaced by MODEL. */
const DEPRECATED = 'gpt-4o-mini';
const ok: Reply = { json: fixtureJson('openai/openai-text.json') };
const streamed: Reply = { frames: sseFrames(chunkLines('openai/openai-text.chunks.txt'), { done: true }) };
const chat = { model: MODEL, messages: [{ role: 'user' as const, content: 'Hi' }] };
const SERVER = 2;
const CLIENT = 3;
const ERROR = 2;

/** A caller's W3C trace context. */
function callerContext(): { traceId: string; spanId: string; traceparent: string; tracestate: string } {
  const traceId = randomHex(16);
  const spanId = randomHex(8);
  return { traceId, spanId, traceparent: `00-${traceId}-${spanId}-01`, tracestate: 'vendor=caller-state' };
}

function randomHex(bytes: number): string {
  return Buffer.from(crypto.getRandomValues(new Uint8Array(bytes))).toString('hex');
}

function byRequest(spans: ReceivedSpan[], requestId: string): { server: ReceivedSpan; attempts: ReceivedSpan[] } | undefined {
  const server = spans.find((s) => s.kind === SERVER && s.attributes['tollbooth.request_id'] === requestId);
  if (!server) return undefined;
  const attempts = spans.filter((s) => s.kind === CLIENT && s.parentSpanId === server.spanId).sort((a, b) => Number(a.attributes['tollbooth.attempt']) - Number(b.attributes['tollbooth.attempt']));
  return { server, attempts };
}

describe('traces on: spans per request and per attempt, exported over OTLP/HTTP', () => {
  let receiver: OtlpReceiver;
  let primary: FakeUpstream;
  let secondary: FakeUpstream;
  let gw: ChildGateway;
  let dir: string;
  let client: OpenAI;

  before(async () => {
    receiver = await OtlpReceiver.start();
    primary = await FakeUpstream.start();
    secondary = await FakeUpstream.start();
    secondary.on('POST', '/api/v1/chat/completions', ok);
    const written = writeTestConfig({
      upstream: primary,
      credentials: { openrouter: { base_url: `${secondary.url}/api/v1` } },
      config: { routes: { [MODEL]: { deployments: [{ provider: 'openai' }, { provider: 'openrouter', upstream_model: 'openai/gpt-6-luna' }] } } },
    });
    dir = written.dir;
    gw = await startChildGateway(written.file, {
      ...written.env,
      // The standard variables only: the base endpoint gets /v1/traces appended (the spec's rule).
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
      OTEL_SERVICE_NAME: 'tollbooth-under-test',
      OTEL_RESOURCE_ATTRIBUTES: 'deployment.environment.name=test',
      // Small batches sooner: the tests still wait on what arrives, never on time.
      OTEL_BSP_SCHEDULE_DELAY: '20',
    });
    client = new OpenAI({ apiKey: CALLER_KEYS.member, baseURL: `${gw.proxyUrl}/v1`, maxRetries: 0 });
  });
  after(async () => {
    await gw?.stop();
    await Promise.all([receiver?.close(), primary?.close(), secondary?.close()]);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const charge = (requestId: string): UsageRecord => {
    const record = ledgerCharges(`${dir}/data`).find((r) => r.request_id === requestId);
    assert.ok(record, `a charge for ${requestId}`);
    return record;
  };

  test('a fallback (503, then served elsewhere): the caller’s trace continues through a server span and two attempt spans', async () => {
    primary.on('POST', '/v1/chat/completions', { status: 503, json: { error: { message: 'overloaded', type: 'server_error' } } });
    const caller = callerContext();
    const { data, response } = await client.chat.completions
      .create(chat, { headers: { traceparent: caller.traceparent, tracestate: caller.tracestate } })
      .withResponse();
    assert.equal(response.headers.get('x-tollbooth-attempts'), '2');
    assert.ok(data.choices[0]?.message.content);
    const requestId = response.headers.get('x-request-id')!;

    const { server, attempts } = await receiver.waitFor((spans) => {
      const found = byRequest(spans, requestId);
      return found && found.attempts.length === 2 ? found : undefined;
    });
    // The server span continues the caller's trace.
    assert.equal(server.traceId, caller.traceId);
    assert.equal(server.parentSpanId, caller.spanId);
    assert.equal(server.name, `chat ${MODEL}`);
    assert.equal(server.resource['service.name'], 'tollbooth-under-test');
    assert.equal(server.resource['deployment.environment.name'], 'test');
    assert.equal(server.resource['service.version'], (await import('../../package.json', { with: { type: 'json' } })).default.version);

    const record = charge(requestId);
    assert.equal(record.attempts, 2);
    assert.partialDeepStrictEqual(server.attributes, {
      'gen_ai.operation.name': 'chat',
      'gen_ai.request.model': MODEL,
      'gen_ai.response.model': MODEL,
      'gen_ai.provider.name': 'openrouter',
      'gen_ai.request.stream': false,
      'gen_ai.usage.input_tokens': record.prompt_tokens,
      'gen_ai.usage.output_tokens': record.completion_tokens,
      'http.request.method': 'POST',
      'http.route': '/v1/chat/completions',
      'http.response.status_code': 200,
      'tollbooth.org': 'acme',
      'tollbooth.credits': Number(record.credits),
      'tollbooth.attempts': 2,
      'tollbooth.outcome': 'ok',
      'tollbooth.api': 'unified',
    });
    assert.ok(Number(record.credits) > 0, 'a managed call is charged');
    assert.equal(server.attributes['error.type'], undefined);

    // Attempt 1: OpenAI answered 503 and was retried; attempt 2: OpenRouter served.
    const [first, second] = attempts as [ReceivedSpan, ReceivedSpan];
    for (const span of [first, second]) {
      assert.equal(span.traceId, caller.traceId);
      assert.ok(span.startNs >= server.startNs && span.endNs <= server.endNs, 'attempts lie inside the request');
    }
    assert.equal(first.name, `chat ${MODEL}`);
    assert.partialDeepStrictEqual(first.attributes, {
      'gen_ai.provider.name': 'openai',
      'gen_ai.request.model': MODEL,
      'http.response.status_code': 503,
      'tollbooth.attempt': 1,
      'tollbooth.attempt.retried': true,
      'tollbooth.outcome': 'upstream_error',
      'server.address': '127.0.0.1',
      'url.full': `${primary.url}/v1/chat/completions`,
    });
    assert.equal(first.attributes['error.type'], 'upstream_error');
    assert.equal(first.status, ERROR);
    assert.equal(second.name, 'chat openai/gpt-6-luna');
    assert.partialDeepStrictEqual(second.attributes, {
      'gen_ai.provider.name': 'openrouter',
      'gen_ai.request.model': 'openai/gpt-6-luna',
      'gen_ai.response.model': 'openai/gpt-6-luna',
      'gen_ai.usage.input_tokens': record.prompt_tokens,
      'gen_ai.usage.output_tokens': record.completion_tokens,
      'http.response.status_code': 200,
      'tollbooth.attempt': 2,
      'tollbooth.outcome': 'ok',
      'tollbooth.credits': Number(record.credits),
    });
    assert.equal(second.attributes['error.type'], undefined);

    // Each upstream saw its own attempt span as parent, in the caller's trace, with the caller's tracestate.
    const sentFirst = primary.requests.at(-1)!.headers;
    const sentSecond = secondary.requests.at(-1)!.headers;
    assert.equal(sentFirst.traceparent, `00-${caller.traceId}-${first.spanId}-01`);
    assert.equal(sentSecond.traceparent, `00-${caller.traceId}-${second.spanId}-01`);
    assert.equal(sentFirst.tracestate, caller.tracestate);
    assert.equal(sentSecond.tracestate, caller.tracestate);
  });

  test('a streamed request for a deprecated id, without a caller trace: a new trace, usage from the stream, the deprecation on the span', async () => {
    primary.on('POST', '/v1/chat/completions', streamed);
    const stream = await client.chat.completions.create({ ...chat, model: DEPRECATED, stream: true, stream_options: { include_usage: true } }).withResponse();
    let text = '';
    for await (const chunk of stream.data) text += chunk.choices[0]?.delta?.content ?? '';
    assert.ok(text.length > 0);
    const requestId = stream.response.headers.get('x-request-id')!;

    const { server, attempts } = await receiver.waitFor((spans) => {
      const found = byRequest(spans, requestId);
      return found && found.attempts.length === 1 ? found : undefined;
    });
    assert.equal(server.parentSpanId, '', 'no caller context: the request span is a root');
    assert.equal(server.name, `chat ${DEPRECATED}`);
    const record = charge(requestId);
    assert.equal(record.usage_source, 'reported');
    assert.partialDeepStrictEqual(server.attributes, {
      'gen_ai.request.model': DEPRECATED,
      'gen_ai.response.model': MODEL,
      'gen_ai.request.stream': true,
      'gen_ai.provider.name': 'openai',
      'gen_ai.usage.input_tokens': record.prompt_tokens,
      'gen_ai.usage.output_tokens': record.completion_tokens,
      'tollbooth.deprecation.status': 'deprecated',
      'tollbooth.deprecation.replacement': MODEL,
      'tollbooth.deprecation.chain': [DEPRECATED, MODEL],
      'tollbooth.credits': Number(record.credits),
    });
    const [attempt] = attempts as [ReceivedSpan];
    assert.equal(attempt.traceId, server.traceId);
    assert.partialDeepStrictEqual(attempt.attributes, { 'gen_ai.request.stream': true, 'tollbooth.outcome': 'ok', 'gen_ai.usage.output_tokens': record.completion_tokens });
    assert.equal(primary.last().headers.traceparent, `00-${server.traceId}-${attempt.spanId}-01`);
    assert.equal(primary.last().headers.tracestate, undefined, 'no tracestate is invented');
  });

  test('every path ends its spans: a stream cut upstream, a client that leaves mid-stream, a final failure, a denial', async () => {
    // Cut by the upstream after some chunks: a truncated stream is an error on both spans.
    primary.on('POST', '/v1/chat/completions', { frames: sseFrames(chunkLines('openai/openai-text.chunks.txt').slice(0, 8)), cut: true });
    const cut = await client.chat.completions.create({ ...chat, stream: true }).withResponse();
    await assert.rejects(async () => {
      for await (const _ of cut.data);
    });
    const cutId = cut.response.headers.get('x-request-id')!;

    // The client leaves after its first chunk (the upstream keeps sending slowly).
    primary.on('POST', '/v1/chat/completions', { frames: sseFrames(chunkLines('openai/openai-text.chunks.txt')), delayMs: 5 });
    const controller = new AbortController();
    const left = await client.chat.completions.create({ ...chat, stream: true }, { signal: controller.signal }).withResponse();
    const leftId = left.response.headers.get('x-request-id')!;
    // The SDK ends its iteration quietly on its own abort.
    for await (const _ of left.data) controller.abort();

    // Every deployment fails: the caller's 5xx, a failed request span.
    primary.on('POST', '/v1/chat/completions', { status: 500, json: { error: { message: 'boom' } } });
    secondary.on('POST', '/api/v1/chat/completions', { status: 500, json: { error: { message: 'boom' } } });
    const failed = await client.chat.completions.create(chat).withResponse().catch((err: unknown) => err as InstanceType<typeof OpenAI.APIError>);
    assert.ok(failed instanceof OpenAI.APIError);
    const failedId = failed.headers?.get('x-request-id')!;
    secondary.on('POST', '/api/v1/chat/completions', ok);

    // An unknown caller key: no exchange, still a request span (404/401 are not span errors).
    const denied = await new OpenAI({ apiKey: 'tb-not-a-key', baseURL: `${gw.proxyUrl}/v1`, maxRetries: 0 }).chat.completions
      .create(chat)
      .withResponse()
      .catch((err: unknown) => err as InstanceType<typeof OpenAI.APIError>);
    assert.ok(denied instanceof OpenAI.APIError);
    const deniedId = denied.headers?.get('x-request-id')!;

    const found = await receiver.waitFor((spans) => {
      const c = byRequest(spans, cutId);
      const l = byRequest(spans, leftId);
      const f = byRequest(spans, failedId);
      const d = byRequest(spans, deniedId);
      return c?.attempts.length === 1 && l?.attempts.length === 1 && f?.attempts.length === 2 && d ? { c, l, f, d } : undefined;
    });
    assert.equal(found.c.server.attributes['error.type'], 'truncated');
    assert.equal(found.c.server.status, ERROR);
    assert.equal(found.c.attempts[0]!.attributes['tollbooth.outcome'], 'truncated');
    assert.equal(found.c.attempts[0]!.status, ERROR);

    assert.equal(found.l.server.attributes['http.response.status_code'], 499);
    assert.equal(found.l.server.attributes['error.type'], 'aborted');
    assert.equal(found.l.attempts[0]!.attributes['tollbooth.outcome'], 'aborted');
    assert.notEqual(found.l.attempts[0]!.status, ERROR, 'the caller leaving is no upstream failure');

    assert.equal(found.f.server.attributes['http.response.status_code'], failed.status);
    assert.equal(found.f.server.status, ERROR);
    assert.equal(typeof found.f.server.attributes['error.type'], 'string');
    assert.deepEqual(found.f.attempts.map((a) => a.attributes['http.response.status_code']), [500, 500]);
    assert.equal(found.f.server.attributes['gen_ai.usage.input_tokens'], undefined, 'no usage on a failure before any token');

    assert.equal(found.d.server.attributes['http.response.status_code'], denied.status);
    assert.equal(found.d.server.name, 'POST /v1/chat/completions');
    assert.notEqual(found.d.server.status, ERROR);
    assert.equal(found.d.server.attributes['error.type'], 'invalid_api_key');
    assert.equal(found.d.server.attributes['tollbooth.org'], undefined);
  });

  test('no secret and no content in any exported span', async () => {
    const everything = receiver.bodies.join('\n');
    assert.ok(everything.length > 0);
    for (const secret of [providerKey('openai'), providerKey('openrouter'), CALLER_KEYS.member, 'tb-not-a-key']) {
      assert.ok(!everything.includes(secret), `${secret} never exported`);
    }
    assert.ok(!everything.includes('"Hi"'), 'the prompt is never recorded');
  });
});

describe('traces flushed on shutdown', () => {
  test('spans still in the batch reach the collector when the sidecar drains on SIGTERM', async () => {
    const receiver = await OtlpReceiver.start();
    const upstream = await FakeUpstream.start();
    upstream.on('POST', '/v1/chat/completions', ok);
    const written = writeTestConfig({ upstream, config: { telemetry: { traces: { enabled: true, endpoint: `${receiver.url}/v1/traces`, service_name: 'from-config' } } } });
    // A batch delay far longer than the test: only the drain's flush can deliver the spans.
    const gw = await startChildGateway(written.file, { ...written.env, OTEL_BSP_SCHEDULE_DELAY: '600000' });
    try {
      const client = new OpenAI({ apiKey: CALLER_KEYS.member, baseURL: `${gw.proxyUrl}/v1`, maxRetries: 0 });
      await client.chat.completions.create(chat);
      assert.equal(receiver.spans.length, 0);
      assert.equal(await gw.stop('SIGTERM'), 0);
      const spans = receiver.spans;
      assert.equal(spans.filter((s) => s.kind === SERVER).length, 1);
      assert.equal(spans.filter((s) => s.kind === CLIENT).length, 1);
      assert.equal(spans[0]!.resource['service.name'], 'from-config');
    } finally {
      await gw.stop();
      await receiver.close();
      await upstream.close();
      rmSync(written.dir, { recursive: true, force: true });
    }
  });
});

describe('traces off (the default)', () => {
  let upstream: FakeUpstream;
  let gw: Awaited<ReturnType<typeof startTestGateway>>;
  before(async () => {
    upstream = await FakeUpstream.start();
    upstream.on('POST', '/v1/chat/completions', ok);
    gw = await startTestGateway({ upstream });
  });
  after(async () => {
    await gw?.close();
    await upstream?.close();
  });

  test('OpenTelemetry is not even loaded unless tracing is on', async () => {
    const main = new URL('../support/loaded-packages-main.ts', import.meta.url).pathname;
    const loaded = async (env: Record<string, string>) => {
      const written = writeTestConfig({ upstream });
      try {
        const { stdout } = await promisify(execFile)(process.execPath, [main, written.file], { env: { ...process.env, ...written.env, ...env } });
        return JSON.parse(stdout.trim().split('\n').at(-1)!) as string[];
      } finally {
        rmSync(written.dir, { recursive: true, force: true });
      }
    };
    // The API package only: prom-client requires it itself (lib/metrics/processCpuTotal.js).
    assert.deepEqual(await loaded({}), ['@opentelemetry/api']);
    // The same probe sees the SDK once tracing is on (nothing listens there; no span is sent).
    const on = await loaded({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://127.0.0.1:9/v1/traces' });
    assert.ok(on.includes('@opentelemetry/sdk-trace-base') && on.includes('@opentelemetry/exporter-trace-otlp-http'), on.join(', '));
  });

  test('no tracer, and no traceparent invented upstream', async () => {
    assert.equal(gw.gateway.services.tracing, null);
    await gw.openai().chat.completions.create(chat);
    assert.equal(upstream.last().headers.traceparent, undefined);
    assert.equal(upstream.last().headers.tracestate, undefined);
  });

  test('a caller’s trace context goes upstream unchanged, unified and passthrough alike', async () => {
    const caller = callerContext();
    await gw.openai().chat.completions.create(chat, { headers: { traceparent: caller.traceparent, tracestate: caller.tracestate } });
    assert.equal(upstream.last().headers.traceparent, caller.traceparent);
    assert.equal(upstream.last().headers.tracestate, caller.tracestate);
    const res = await fetch(`${gw.url}/openai/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${CALLER_KEYS.member}`, 'content-type': 'application/json', traceparent: caller.traceparent },
      body: JSON.stringify({ ...chat, model: 'gpt-4.1-nano-2025-04-14' }),
    });
    assert.equal(res.status, 200);
    await res.arrayBuffer();
    assert.equal(upstream.last().headers.traceparent, caller.traceparent);
  });
});
