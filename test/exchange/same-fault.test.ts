/**
 * One pipeline, one behaviour: the same upstream fault through the unified API, native passthrough
 * and audio transcription gives the same routing (attempts, who served), the same health (what the
 * deployment's window and breaker were told) and the same money (what the ledger charged). Each
 * case runs against a fresh sidecar so one case's health cannot leak into the next. Outcomes are
 * asserted, never durations; waits are for conditions.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import type { UsageRecord } from '../../src/metering/record.ts';
import { FakeUpstream, type Reply, type SeenRequest } from '../support/fake-upstream.ts';
import { chunkLines, fixtureJson, sseFrames } from '../support/fixtures.ts';
import { CALLER_KEYS, startTestGateway, type TestGateway } from '../support/gateway.ts';

const never = () => new Promise<never>(() => {});
const OVERLOADED = { error: { message: 'The server is overloaded.', type: 'server_error', param: null, code: null } };
/** The first recorded chunks of an OpenAI stream: tokens that reach the client. */
const TOKENS = sseFrames(chunkLines('openai/openai-text.chunks.txt')).slice(0, 4);
const ERROR_EVENT = `data: ${JSON.stringify(OVERLOADED)}\n\n`;

type PathName = 'unified' | 'passthrough' | 'audio';

interface Path {
  /** Where the request lands on the fake provider. */
  upstreamPath: string;
  /** Whether the answer streams (the stream faults apply). */
  streams: boolean;
  send(gw: TestGateway, signal?: AbortSignal): Promise<Response>;
}

const chatBody = JSON.stringify({ model: 'gpt-6-luna', messages: [{ role: 'user', content: 'Hi' }], stream: true });
const jsonHeaders = { authorization: `Bearer ${CALLER_KEYS.member}`, 'content-type': 'application/json' };

const PATHS: Record<PathName, Path> = {
  unified: {
    upstreamPath: '/v1/chat/completions',
    streams: true,
    send: (gw, signal) => fetch(`${gw.url}/v1/chat/completions`, { method: 'POST', headers: jsonHeaders, body: chatBody, signal }),
  },
  passthrough: {
    upstreamPath: '/v1/chat/completions',
    streams: true,
    send: (gw, signal) => fetch(`${gw.url}/openai/v1/chat/completions`, { method: 'POST', headers: jsonHeaders, body: chatBody, signal }),
  },
  audio: {
    upstreamPath: '/v1/audio/transcriptions',
    streams: false,
    send(gw, signal) {
      const form = new FormData();
      form.append('model', 'whisper-1');
      form.append('file', new Blob([Buffer.from('RIFF....WAVEfmt ')], { type: 'audio/wav' }), 'hello.wav');
      return fetch(`${gw.url}/v1/audio/transcriptions`, { method: 'POST', headers: { authorization: `Bearer ${CALLER_KEYS.member}` }, body: form, signal });
    },
  },
};

/** What the deployments' health windows were told, summed over every deployment seen. */
function healthOf(gw: TestGateway): { observed: number; failed: number } {
  let observed = 0;
  let failed = 0;
  for (const d of gw.gateway.services.health.snapshot()) {
    observed += d.requests;
    failed += Math.round(d.requests * (1 - (d.success_rate ?? 1)));
  }
  return { observed, failed };
}

/** The request's charge, once the ledger has it. */
async function chargeOf(gw: TestGateway): Promise<UsageRecord> {
  for (;;) {
    const records = await gw.usage();
    if (records.length > 0) return records.at(-1)!;
    await new Promise((r) => setImmediate(r));
  }
}

async function until(condition: () => boolean): Promise<void> {
  while (!condition()) await new Promise((r) => setTimeout(r, 5));
}

interface Outcome {
  routing: { attempts: number; provider: string };
  health: { observed: number; failed: number };
  money: { credits: string; usage_source: string };
}

interface Fault {
  name: string;
  /** Paths it applies to (a stream fault needs a stream). */
  applies(path: Path): boolean;
  config?: Record<string, unknown>;
  /** The fake provider's answer. */
  reply?: Reply | ((req: SeenRequest) => Promise<Reply>);
  /** Sends the head and these frames, then nothing more (instead of `reply`). */
  stall?: string[];
  /** The client leaves once the provider has the request (and, with `stall`, once bytes arrived). */
  abort?: boolean;
  expected: Outcome;
}

const ONE_FAILURE = { observed: 1, failed: 1 };

const FAULTS: Fault[] = [
  {
    name: 'a retryable 503',
    applies: () => true,
    reply: { status: 503, json: OVERLOADED },
    expected: { routing: { attempts: 1, provider: 'openai' }, health: ONE_FAILURE, money: { credits: '0', usage_source: 'none' } },
  },
  {
    name: 'a hung attempt (no head within the first-byte limit)',
    applies: () => true,
    config: { routing: { first_byte_timeout_ms: 200 } },
    reply: never,
    expected: { routing: { attempts: 1, provider: 'openai' }, health: ONE_FAILURE, money: { credits: '0', usage_source: 'none' } },
  },
  {
    name: 'a client abort before the answer',
    applies: () => true,
    reply: never,
    abort: true,
    // The client leaving says nothing about the deployment; nothing was processed, nothing is owed.
    expected: { routing: { attempts: 1, provider: 'openai' }, health: { observed: 0, failed: 0 }, money: { credits: '0', usage_source: 'none' } },
  },
  {
    name: 'an error inside a 200 (an error event in a stream, an error object in a whole answer)',
    applies: () => true,
    reply: undefined,
    expected: { routing: { attempts: 1, provider: 'openai' }, health: ONE_FAILURE, money: { credits: '0', usage_source: 'none' } },
  },
  {
    name: 'an error event inside a 200 stream after tokens reached the client',
    applies: (p) => p.streams,
    reply: { frames: [...TOKENS, ERROR_EVENT] },
    // Tokens were processed: estimated usage plus the run credit (compared across paths below).
    expected: { routing: { attempts: 1, provider: 'openai' }, health: ONE_FAILURE, money: { credits: 'charged', usage_source: 'estimated' } },
  },
  {
    name: 'a client abort after tokens reached the client',
    applies: (p) => p.streams,
    stall: TOKENS,
    abort: true,
    expected: { routing: { attempts: 1, provider: 'openai' }, health: { observed: 0, failed: 0 }, money: { credits: 'charged', usage_source: 'estimated' } },
  },
];

/** The error-in-200 reply per path: an error event in a stream, an error object in a whole answer. */
function errorIn200(path: Path): Reply {
  return path.streams ? { frames: [ERROR_EVENT] } : { json: OVERLOADED };
}

describe('the same fault through unified, passthrough and audio', () => {
  let upstream: FakeUpstream;
  let stalling: Server;
  let stallFrames: string[] = [];
  const gateways: TestGateway[] = [];

  before(async () => {
    upstream = await FakeUpstream.start();
    stalling = createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        for (const f of stallFrames) res.write(f);
      });
    });
    stalling.listen(0, '127.0.0.1');
    await once(stalling, 'listening');
  });
  after(async () => {
    await Promise.all(gateways.map((g) => g.close()));
    await upstream.close();
    stalling.closeAllConnections();
    stalling.close();
  });

  async function run(fault: Fault, name: PathName): Promise<Outcome & { status: number | 'aborted' }> {
    const path = PATHS[name];
    upstream.reset();
    upstream.on('POST', path.upstreamPath, fault.reply === undefined ? errorIn200(path) : fault.reply);
    stallFrames = fault.stall ?? [];
    const stallUrl = `http://127.0.0.1:${(stalling.address() as AddressInfo).port}/v1`;
    const gw = await startTestGateway({
      upstream,
      config: fault.config ?? {},
      credentials: fault.stall ? { openai: { base_url: stallUrl } } : {},
    });
    gateways.push(gw);
    let status: number | 'aborted';
    if (fault.abort) {
      const controller = new AbortController();
      const answer = path.send(gw, controller.signal);
      if (fault.stall) {
        const reader = (await answer).body!.getReader();
        // Tokens reached the client; then it leaves.
        await reader.read();
        controller.abort();
        await reader.cancel().catch(() => undefined);
      } else {
        await until(() => upstream.requests.length > 0);
        controller.abort();
        await answer.then((res) => res.body?.cancel(), () => undefined);
      }
      status = 'aborted';
    } else {
      const res = await path.send(gw);
      await res.arrayBuffer();
      status = res.status;
    }
    const charge = await chargeOf(gw);
    const charged = fault.expected.money.credits === 'charged';
    return {
      status,
      routing: { attempts: charge.attempts, provider: charge.provider },
      health: healthOf(gw),
      money: { credits: charged && Number(charge.credits) > 0 ? 'charged' : charge.credits, usage_source: charge.usage_source },
    };
  }

  for (const fault of FAULTS) {
    test(fault.name, { timeout: 30_000 }, async () => {
      const seen: Partial<Record<PathName, Outcome & { status: number | 'aborted'; credits?: string }>> = {};
      for (const name of Object.keys(PATHS) as PathName[]) {
        if (!fault.applies(PATHS[name])) continue;
        const got = await run(fault, name);
        seen[name] = got;
        const { routing, health, money } = got;
        assert.deepEqual({ routing, health, money }, fault.expected, `${name}: ${fault.name}`);
      }
      assert.ok(Object.keys(seen).length >= 2, 'compared across paths');
    });
  }

  test('tokens then a fault cost the same on the unified API and through passthrough (the one money rule)', { timeout: 30_000 }, async () => {
    const credits: string[] = [];
    for (const name of ['unified', 'passthrough'] as const) {
      upstream.reset();
      upstream.on('POST', PATHS[name].upstreamPath, { frames: [...TOKENS, ERROR_EVENT] });
      const gw = await startTestGateway({ upstream });
      gateways.push(gw);
      const res = await PATHS[name].send(gw);
      await res.arrayBuffer();
      const charge = await chargeOf(gw);
      assert.equal(charge.outcome, 'stream_error', name);
      credits.push(charge.credits);
    }
    assert.equal(credits[0], credits[1]);
  });
});

describe('a retryable 503 with a second deployment configured', () => {
  let primary: FakeUpstream;
  let secondary: FakeUpstream;
  const gateways: TestGateway[] = [];

  before(async () => {
    primary = await FakeUpstream.start();
    secondary = await FakeUpstream.start();
    secondary.on('POST', '/api/v1/chat/completions', { json: fixtureJson('openai/openai-text.json') });
    secondary.on('POST', '/api/v1/audio/transcriptions', { json: fixtureJson('openai/openai-transcription.json') });
  });
  after(async () => {
    await Promise.all(gateways.map((g) => g.close()));
    await primary.close();
    await secondary.close();
  });

  const routes = {
    'gpt-6-luna': { deployments: [{ provider: 'openai' }, { provider: 'openrouter', upstream_model: 'openai/gpt-6-luna' }] },
    // whisper-1 is deprecated: it routes to gpt-transcribe, whose route this is.
    'gpt-transcribe': { deployments: [{ provider: 'openai' }, { provider: 'openrouter', upstream_model: 'openai/gpt-transcribe' }] },
  };

  for (const name of ['unified', 'audio'] as const) {
    test(`${name}: the next deployment serves; the first one's health counts the failure`, async () => {
      primary.reset();
      primary.on('POST', PATHS[name].upstreamPath, { status: 503, json: OVERLOADED });
      const gw = await startTestGateway({ upstream: primary, credentials: { openrouter: { base_url: `${secondary.url}/api/v1` } }, config: { routes } });
      gateways.push(gw);
      // Not streamed here: the fallback is decided before the answer starts.
      const res =
        name === 'unified'
          ? await fetch(`${gw.url}/v1/chat/completions`, { method: 'POST', headers: jsonHeaders, body: JSON.stringify({ model: 'gpt-6-luna', messages: [{ role: 'user', content: 'Hi' }] }) })
          : await PATHS.audio.send(gw);
      const text = await res.text();
      assert.equal(res.status, 200, text);
      assert.equal(res.headers.get('x-tollbooth-attempts'), '2');
      const charge = await chargeOf(gw);
      assert.deepEqual({ attempts: charge.attempts, provider: charge.provider, outcome: charge.outcome }, { attempts: 2, provider: 'openrouter', outcome: 'ok' });
      const health = Object.fromEntries(gw.gateway.services.health.snapshot().map((d) => [d.provider, d.success_rate]));
      assert.deepEqual(health, { openai: 0, openrouter: 1 });
      assert.equal(primary.requests.length, 1);
      // The upload reached the second deployment whole (spooled, since the route has a fallback).
      if (name === 'audio') assert.match(secondary.last().body.toString('latin1'), /RIFF\.\.\.\.WAVEfmt /);
    });
  }
});
