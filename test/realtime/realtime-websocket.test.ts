/**
 * Realtime over WebSocket through passthrough: a real WebSocket client (Node's global WebSocket,
 * undici's, which offers permessage-deflate) against the sidecar, the sidecar against a fake provider
 * (the `ws` package) that replays a recorded session.
 *
 * Recording: test/fixtures/realtime/openai-realtime-ga.jsonl — OpenAI Realtime (GA, gpt-realtime)
 * server events as logged from live sessions in github.com/bravedigger/openai_realtime_sip_gateway,
 * openai_realtime.cpp @ 4ad5bfc51025899bb88133a899335624e34f0055 (see test/fixtures/realtime/SOURCES.md).
 * Gemini Live: no public recording of a usage frame was found; its messages follow the Live API
 * reference (BidiGenerateContentServerMessage: serverContent.turnComplete beside usageMetadata) and
 * are marked hand-written below.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { createServer, request, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { WebSocketServer, type WebSocket as WsSocket } from 'ws';
import { proves, provesHandWritten } from '../support/capabilities.ts';
import type { ModelRecord } from '../../src/catalog/types.ts';
import { expectedCredits } from '../support/expect.ts';
import { FakeUpstream } from '../support/fake-upstream.ts';
import { CALLER_KEYS, providerKey, startTestGateway, type TestGateway } from '../support/gateway.ts';

const RECORDING = readFileSync(new URL('../fixtures/realtime/openai-realtime-ga.jsonl', import.meta.url), 'utf8').trim().split('\n');
const RECORDED_USAGE = JSON.parse(RECORDING.at(-1)!).response.usage;

const REALTIME_MODEL = {
  model_id: 'openai/gpt-realtime', name: 'GPT Realtime', vendor: 'openai', provider: 'openai', upstream_model: 'gpt-realtime',
  context_window: 32000, max_output_tokens: 4096, quality_score: 80, latency_score: 90,
  input_usd_per_1m: 4, output_usd_per_1m: 16, status: 'active',
};
const LIVE_MODEL = {
  model_id: 'gemini/live-flash', name: 'Gemini Live Flash', vendor: 'google', provider: 'gemini', upstream_model: 'gemini-live-2.5-flash-preview',
  context_window: 32000, max_output_tokens: 8192, quality_score: 80, latency_score: 90,
  input_usd_per_1m: 0.5, output_usd_per_1m: 2, status: 'active',
};

/** The money rule (test/support/expect.ts) for a realtime test model: only the two seed prices. */
const credits = (model: { input_usd_per_1m: number; output_usd_per_1m: number }, prompt: number, completion: number) =>
  expectedCredits(model as ModelRecord, prompt, completion);

type Script = (socket: WsSocket, firstMessage: string) => void;

/** A fake provider speaking WebSocket: records each upgrade's headers and URL, runs `script` per session. */
class FakeRealtime {
  readonly upgrades: { url: string; headers: IncomingHttpHeaders }[] = [];
  script: Script = () => {};
  url = '';
  #server!: Server;
  #wss!: WebSocketServer;

  async start(): Promise<this> {
    // Compression would be accepted if offered: the sidecar must not offer it.
    this.#wss = new WebSocketServer({ noServer: true, perMessageDeflate: true });
    this.#server = createServer((_req, res) => res.writeHead(426).end());
    this.#server.on('upgrade', (req, socket, head) => {
      this.upgrades.push({ url: req.url ?? '', headers: req.headers });
      this.#wss.handleUpgrade(req, socket, head, (ws) => {
        ws.once('message', (data: Buffer) => this.script(ws, data.toString('utf8')));
        ws.on('error', () => {});
      });
    });
    this.#server.listen(0, '127.0.0.1');
    await once(this.#server, 'listening');
    this.url = `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
    return this;
  }

  async close(): Promise<void> {
    for (const client of this.#wss.clients) client.terminate();
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}

/** A WebSocket session as a client sees it: every message, and how it closed. */
function connect(url: string, headers: Record<string, string>) {
  const ws = new WebSocket(url, { headers } as any);
  const messages: unknown[] = [];
  const waiters: { test: (m: any) => boolean; resolve: (m: any) => void }[] = [];
  ws.binaryType = 'arraybuffer';
  ws.addEventListener('message', (e) => {
    const text = typeof e.data === 'string' ? e.data : Buffer.from(e.data as ArrayBuffer).toString('utf8');
    const m = JSON.parse(text);
    messages.push(m);
    for (const w of [...waiters]) if (w.test(m)) (waiters.splice(waiters.indexOf(w), 1), w.resolve(m));
  });
  const closed = new Promise<{ code: number; reason: string }>((resolve) => ws.addEventListener('close', (e) => resolve({ code: e.code, reason: e.reason })));
  const opened = new Promise<void>((resolve, reject) => {
    ws.addEventListener('open', () => resolve());
    ws.addEventListener('error', () => reject(new Error('the upgrade failed')));
  });
  return {
    ws,
    messages,
    opened,
    closed,
    next: (test: (m: any) => boolean) => new Promise<any>((resolve) => waiters.push({ test, resolve })),
  };
}

/** The raw answer to an upgrade request (status and body), for refusals a WebSocket client cannot read. */
function rawUpgrade(url: string, headers: Record<string, string>): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { headers: { connection: 'Upgrade', upgrade: 'websocket', 'sec-websocket-version': '13', 'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==', ...headers } });
    req.on('response', async (res) => {
      let body = '';
      for await (const chunk of res) body += chunk;
      resolve({ status: res.statusCode!, body });
    });
    req.on('upgrade', () => reject(new Error('upgraded')));
    req.on('error', reject);
    req.end();
  });
}

describe('realtime sessions over WebSocket, metered from the provider’s usage frames', () => {
  let fake: FakeRealtime;
  let upstream: FakeUpstream;
  let gw: TestGateway;
  before(async () => {
    fake = await new FakeRealtime().start();
    upstream = await FakeUpstream.start();
    gw = await startTestGateway({
      upstream,
      credentials: { openai: { base_url: `${fake.url}/v1` }, gemini: { base_url: fake.url } },
      config: {
        models: [REALTIME_MODEL, LIVE_MODEL],
        plans: { prepaid: {} },
        orgs: [
          { id: 'acme', name: 'Acme', plan: 'prepaid', wallet: { grants: [{ id: 'seed', credits: '100000' }] } },
          // Enough for one turn's hold (4096 output tokens ≈ 69.8 credits), not for a second after its charge.
          { id: 'globex', name: 'Globex', plan: 'prepaid', wallet: { grants: [{ id: 'seed', credits: '72' }] } },
        ],
      },
    });
  });
  after(async () => {
    await gw.close();
    await fake.close();
    await upstream.close();
  });

  const openaiUrl = () => `${gw.url.replace('http', 'ws')}/openai/v1/realtime?model=gpt-realtime`;
  /** Replays the recording: session.created at once, the rest after the client's first event. */
  const replay: Script = (ws) => {
    for (const line of RECORDING.slice(1)) ws.send(line);
  };

  test('OpenAI Realtime: the managed key upstream, compression refused, one charge per response.done equal to the recorded usage', async () => {
    proves('openai', 'realtime');
    fake.script = replay;
    const session = connect(openaiUrl(), { authorization: `Bearer ${CALLER_KEYS.member}` });
    await session.opened;
    assert.equal(session.ws.extensions, '', 'no extension negotiated with the client');
    const done = session.next((m) => m.type === 'response.done');
    session.ws.send(JSON.stringify({ type: 'response.create' }));
    const event = await done;
    assert.deepEqual(event.response.usage, RECORDED_USAGE, 'the frame reached the client unchanged');
    assert.deepEqual(session.messages.map((m: any) => m.type), RECORDING.slice(1).map((l) => JSON.parse(l).type), 'every recorded event relayed, in order');

    // The charge was in the ledger before response.done reached the client.
    const charges = (await gw.usage()).filter((r) => r.provider === 'openai');
    assert.equal(charges.length, 1);
    const charge = charges[0]!;
    assert.equal(charge.model, 'openai/gpt-realtime');
    assert.equal(charge.operation, 'realtime', 'a realtime turn, not a chat completion');
    assert.equal(charge.billing, 'managed');
    assert.equal(charge.prompt_tokens, 132);
    assert.equal(charge.completion_tokens, 188);
    assert.equal(charge.cached_tokens, 64);
    assert.equal(charge.usage_source, 'reported');
    assert.ok(Math.abs(Number(charge.credits) - credits(REALTIME_MODEL, 132, 188)) < 1e-9, `${charge.credits} credits`);

    const seen = fake.upgrades.at(-1)!;
    assert.equal(seen.url, '/v1/realtime?model=gpt-realtime');
    assert.equal(seen.headers.authorization, `Bearer ${providerKey('openai')}`, 'the managed key, not the caller’s');
    assert.ok(!JSON.stringify(seen.headers).includes(CALLER_KEYS.member), 'the caller’s key never reaches the provider');
    assert.equal(seen.headers['sec-websocket-extensions'], undefined, 'permessage-deflate was not offered upstream');

    session.ws.close(1000);
    assert.equal((await session.closed).code, 1000);
  });

  test('OpenAI browser auth: the key in the openai-insecure-api-key subprotocol is accepted and never forwarded', async () => {
    fake.script = replay;
    const ws = new WebSocket(openaiUrl(), ['realtime', `openai-insecure-api-key.${CALLER_KEYS.member}`]);
    await new Promise((resolve, reject) => (ws.addEventListener('open', resolve), ws.addEventListener('error', reject)));
    const seen = fake.upgrades.at(-1)!;
    assert.equal(seen.headers['sec-websocket-protocol'], 'realtime');
    assert.ok(!JSON.stringify(seen.headers).includes(CALLER_KEYS.member));
    ws.close();
  });

  test('an org that runs out mid-session: its turn is charged, then a close frame naming credits_exhausted', async () => {
    fake.script = replay;
    const before = (await gw.usage()).length;
    const session = connect(openaiUrl(), { authorization: `Bearer ${CALLER_KEYS.otherOrg}` });
    await session.opened;
    const done = session.next((m) => m.type === 'response.done');
    session.ws.send(JSON.stringify({ type: 'response.create' }));
    await done;
    const closed = await session.closed;
    assert.equal(closed.code, 4402);
    assert.match(closed.reason, /^credits_exhausted: /);
    const charges = (await gw.usage()).slice(before);
    assert.equal(charges.length, 1);
    assert.equal(charges[0]!.org, 'globex');
    assert.ok(Math.abs(Number(charges[0]!.credits) - credits(REALTIME_MODEL, 132, 188)) < 1e-9);
  });

  test('an org without the credits for one turn is refused at the upgrade: 402 and the DenialEnvelope', async () => {
    // globex's wallet is below one turn's hold after the previous test.
    const answer = await rawUpgrade(openaiUrl().replace('ws', 'http'), { authorization: `Bearer ${CALLER_KEYS.otherOrg}` });
    assert.equal(answer.status, 402);
    assert.equal(JSON.parse(answer.body).code, 'credits_exhausted');
  });

  test('a managed session whose frame cannot be read is closed (1008), never served unmetered', async () => {
    fake.script = (ws) => {
      ws.send(RECORDING[7]!); // response.created: a turn is under way
      ws.send('not json');
      ws.send(RECORDING.at(-1)!);
    };
    const before = (await gw.usage()).length;
    const session = connect(openaiUrl(), { authorization: `Bearer ${CALLER_KEYS.member}` });
    await session.opened;
    session.ws.send(JSON.stringify({ type: 'response.create' }));
    const closed = await session.closed;
    assert.equal(closed.code, 1008);
    assert.match(closed.reason, /cannot be metered/);
    assert.ok(!session.messages.some((m: any) => m.type === 'response.done'), 'nothing after the unreadable frame');
    const charges = (await gw.usage()).slice(before);
    assert.equal(charges.length, 1, 'the turn under way is charged (estimated)');
    assert.equal(charges[0]!.usage_source, 'estimated');
  });

  test('a path that is not a realtime API is refused before any upgrade', async () => {
    const answer = await rawUpgrade(`${gw.url}/openai/v1/chat/completions`, { authorization: `Bearer ${CALLER_KEYS.member}` });
    assert.equal(answer.status, 404);
    const noKey = await rawUpgrade(openaiUrl().replace('ws', 'http'), {});
    assert.equal(noKey.status, 401);
  });

  test('Gemini Live: model from the setup message, ?key= never forwarded, one charge per turn from usageMetadata', async () => {
    // Hand-written after the Live API reference (no public recording of a usage frame found).
    provesHandWritten('gemini', 'realtime');
    const usageMetadata = {
      promptTokenCount: 220, responseTokenCount: 140, totalTokenCount: 360,
      promptTokensDetails: [{ modality: 'TEXT', tokenCount: 60 }, { modality: 'AUDIO', tokenCount: 160 }],
      responseTokensDetails: [{ modality: 'AUDIO', tokenCount: 140 }],
    };
    let setup: any = null;
    fake.script = (ws, first) => {
      setup = JSON.parse(first);
      ws.send(Buffer.from(JSON.stringify({ setupComplete: {} })));
      ws.on('message', () => {
        ws.send(Buffer.from(JSON.stringify({ serverContent: { modelTurn: { parts: [{ inlineData: { mimeType: 'audio/pcm;rate=24000', data: 'AAAA' } }] } } })));
        ws.send(Buffer.from(JSON.stringify({ serverContent: { generationComplete: true } })));
        ws.send(Buffer.from(JSON.stringify({ serverContent: { turnComplete: true }, usageMetadata })));
      });
    };
    const before = (await gw.usage()).length;
    const url = `${gw.url.replace('http', 'ws')}/gemini/ws/google.ai.generativelanguage.v1beta.GenerativeService.BidiGenerateContent?key=${CALLER_KEYS.member}`;
    const session = connect(url, {});
    await session.opened;
    const ready = session.next((m) => 'setupComplete' in m);
    session.ws.send(JSON.stringify({ setup: { model: 'models/gemini-live-2.5-flash-preview' } }));
    await ready;
    const turn = session.next((m) => m.serverContent?.turnComplete === true);
    session.ws.send(JSON.stringify({ clientContent: { turns: [{ role: 'user', parts: [{ text: 'Hello' }] }], turnComplete: true } }));
    await turn;
    assert.equal(setup.setup.model, 'models/gemini-live-2.5-flash-preview');
    const seen = fake.upgrades.at(-1)!;
    assert.equal(seen.url, '/ws/google.ai.generativelanguage.v1beta.GenerativeService.BidiGenerateContent');
    assert.equal(seen.headers['x-goog-api-key'], providerKey('gemini'));
    const charges = (await gw.usage()).slice(before);
    assert.equal(charges.length, 1);
    assert.equal(charges[0]!.model, 'gemini/live-flash');
    assert.equal(charges[0]!.prompt_tokens, 220);
    assert.equal(charges[0]!.completion_tokens, 140);
    assert.ok(Math.abs(Number(charges[0]!.credits) - credits(LIVE_MODEL, 220, 140)) < 1e-9);
    session.ws.close(1000);
    await session.closed;
  });
});

describe('a realtime path without an upgrade', () => {
  let upstream: FakeUpstream;
  let gw: TestGateway;
  before(async () => {
    upstream = await FakeUpstream.start();
    gw = await startTestGateway({ upstream });
  });
  after(async () => {
    await gw.close();
    await upstream.close();
  });
  test('is a 400 that says to upgrade, and never reaches the provider', async () => {
    const res = await fetch(`${gw.url}/openai/v1/realtime?model=gpt-realtime`, { headers: { authorization: `Bearer ${CALLER_KEYS.member}` } });
    assert.equal(res.status, 400);
    assert.match(((await res.json()) as any).error.message, /WebSocket API/);
    assert.equal(upstream.requests.length, 0);
  });
});
