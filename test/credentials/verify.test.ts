/**
 * Credential verification: each provider's validation call (from the real catalog) reaches a fake
 * upstream with the candidate key where the provider expects it, and the provider's answer becomes a
 * verdict. Bad-key answers are the ones users pasted from real responses
 * (_transcribed/error-bodies-from-public-reports.json).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Secret } from '../../src/credentials/secret.ts';
import type { Credential } from '../../src/credentials/store.ts';
import { validationRequest, verifyCredential, type Send } from '../../src/credentials/verify.ts';
import { Upstream, type OutboundRequest } from '../../src/upstream/transport.ts';
import { loadTestCatalog } from '../support/catalog.ts';
import { FakeUpstream, type SeenRequest } from '../support/fake-upstream.ts';
import { fixtureJson } from '../support/fixtures.ts';
import { TEST_AWS, TEST_AWS_CREDENTIAL_STRING, verifySigV4 } from '../providers/bedrock/bedrock-upstream.ts';

const catalog = loadTestCatalog();
const KEY = ['candidate', 'key', 'for', 'verify', 'tests'].join('-');

interface Transcribed {
  provider: string;
  status: number;
  headers: Record<string, string>;
  body: unknown;
}
const reported: Transcribed[] = fixtureJson('_transcribed/error-bodies-from-public-reports.json').errors;
function reportedError(provider: string, status: number, nth = 0): Transcribed {
  const found = reported.filter((e) => e.provider === provider && e.status === status)[nth];
  assert.ok(found, `a transcribed ${provider} ${status}`);
  return found;
}

/** The path of the provider's base URL (the fake upstream stands in for its host). */
function basePath(provider: string): string {
  const base = catalog.provider(provider)!.base_url;
  return base === null ? '' : new URL(base.replace('{region}', 'us-east-1')).pathname.replace(/\/$/, '');
}

function credential(provider: string, baseUrl: string | null, extra: Partial<Credential> = {}): Credential {
  return {
    id: `${provider}-candidate`,
    provider,
    billing: 'managed',
    secret: new Secret(KEY),
    unavailable: null,
    baseUrl,
    region: null,
    apiVersion: null,
    source: 'test',
    ...extra,
  };
}

let fake: FakeUpstream;
let upstream: Upstream;
let send: Send;

before(async () => {
  fake = await FakeUpstream.start();
  upstream = new Upstream({ connect_timeout_ms: 2000, headers_timeout_ms: 5000, body_timeout_ms: 5000, keep_alive_timeout_ms: 1000, connections: 8 });
  send = upstream.send.bind(upstream);
});
after(async () => {
  await upstream.close();
  await fake.close();
});

/** Each provider's check: where the fake upstream must see it, and how the key must travel. */
const CHECKS = [
  { provider: 'openai', method: 'GET', path: '/v1/models', header: 'authorization', value: `Bearer ${KEY}` },
  { provider: 'groq', method: 'GET', path: '/openai/v1/models', header: 'authorization', value: `Bearer ${KEY}` },
  { provider: 'mistral', method: 'GET', path: '/v1/models', header: 'authorization', value: `Bearer ${KEY}` },
  { provider: 'anthropic', method: 'GET', path: '/v1/models', header: 'x-api-key', value: KEY, also: { 'anthropic-version': '2023-06-01' } },
  { provider: 'gemini', method: 'GET', path: '/v1beta/models', header: 'x-goog-api-key', value: KEY },
  { provider: 'cohere', method: 'POST', path: '/v1/check-api-key', header: 'authorization', value: `Bearer ${KEY}` },
  { provider: 'xai', method: 'GET', path: '/v1/api-key', header: 'authorization', value: `Bearer ${KEY}` },
  { provider: 'openrouter', method: 'GET', path: '/api/v1/key', header: 'authorization', value: `Bearer ${KEY}` },
  { provider: 'azure', base: '/openai', method: 'GET', path: '/openai/models', header: 'api-key', value: KEY, apiVersion: '2024-10-21' },
] as const;

describe('the validation call of each provider', () => {
  for (const check of CHECKS) {
    test(`${check.provider}: ${check.method} ${check.path} with the candidate key in ${check.header}`, async () => {
      fake.reset();
      fake.on(check.method, check.path, { json: { data: [] } });
      const c = credential(check.provider, fake.url + ('base' in check ? check.base : basePath(check.provider)), 'apiVersion' in check ? { apiVersion: check.apiVersion } : {});
      const verdict = await verifyCredential(catalog.provider(check.provider)!, c, send);
      assert.deepEqual(verdict, { result: 'valid', status: 200 });
      const seen = fake.last();
      assert.equal(seen.method, check.method);
      assert.equal(seen.path, check.path);
      assert.equal(seen.headers[check.header], check.value);
      for (const [name, value] of Object.entries('also' in check ? check.also : {})) assert.equal(seen.headers[name], value);
      if ('apiVersion' in check) assert.equal(new URLSearchParams(seen.url.split('?')[1]).get('api-version'), check.apiVersion);
    });
  }

  test('a provider without a validation call (perplexity) is reported as unsupported, nothing is sent', async () => {
    fake.reset();
    const verdict = await verifyCredential(catalog.provider('perplexity')!, credential('perplexity', fake.url), send);
    assert.equal(verdict.result, 'unsupported');
    assert.equal(fake.requests.length, 0);
  });
});

describe('verdicts from what providers answer to a bad key', () => {
  const BAD_KEYS: { provider: string; path: string; status: number; nth?: number }[] = [
    { provider: 'openai', path: '/v1/models', status: 401 },
    { provider: 'xai', path: '/v1/api-key', status: 400 },
    { provider: 'mistral', path: '/v1/models', status: 401 },
    { provider: 'mistral', path: '/v1/models', status: 401, nth: 1 },
    { provider: 'cohere', path: '/v1/check-api-key', status: 401 },
    { provider: 'gemini', path: '/v1beta/models', status: 400 },
  ];
  for (const bad of BAD_KEYS) {
    test(`${bad.provider} ${bad.status}${bad.nth ? ` (shape ${bad.nth + 1})` : ''} → invalid, and the reason quotes no key`, async () => {
      const answer = reportedError(bad.provider, bad.status, bad.nth);
      fake.reset();
      fake.on(catalog.provider(bad.provider)!.validation!.method, bad.path, { status: answer.status, headers: answer.headers, json: answer.body });
      const verdict = await verifyCredential(catalog.provider(bad.provider)!, credential(bad.provider, fake.url + basePath(bad.provider)), send);
      assert.equal(verdict.result, 'invalid');
      assert.ok('reason' in verdict && verdict.reason.includes(`HTTP ${bad.status}`), JSON.stringify(verdict));
      assert.ok(!JSON.stringify(verdict).includes(KEY));
    });
  }

  test('OpenAI 401 names its error code', async () => {
    const answer = reportedError('openai', 401);
    fake.reset();
    fake.on('GET', '/v1/models', { status: 401, json: answer.body });
    const verdict = await verifyCredential(catalog.provider('openai')!, credential('openai', fake.url + basePath('openai')), send);
    assert.deepEqual(verdict, { result: 'invalid', status: 401, reason: 'openai answered HTTP 401 (invalid_api_key)' });
  });

  test('overloaded (Anthropic 529) and rate-limited (OpenAI 429) give no verdict: unreachable', async () => {
    for (const [provider, status, path] of [['anthropic', 529, '/v1/models'], ['openai', 429, '/v1/models']] as const) {
      const answer = reportedError(provider, status);
      fake.reset();
      fake.on('GET', path, { status, json: answer.body });
      const verdict = await verifyCredential(catalog.provider(provider)!, credential(provider, fake.url + basePath(provider)), send);
      assert.equal(verdict.result, 'unreachable', `${provider} ${status}`);
    }
  });

  test('a provider that cannot be reached gives no verdict', async () => {
    const verdict = await verifyCredential(catalog.provider('openai')!, credential('openai', 'http://127.0.0.1:1/v1'), send);
    assert.equal(verdict.result, 'unreachable');
  });

  test('a 200 that carries a refusal: Cohere {valid:false}, xAI api_key_blocked', async () => {
    fake.reset();
    fake.on('POST', '/v1/check-api-key', { json: { valid: false, organization_id: null, owner_id: null } });
    assert.equal((await verifyCredential(catalog.provider('cohere')!, credential('cohere', fake.url + basePath('cohere')), send)).result, 'invalid');
    fake.on('GET', '/v1/api-key', { json: { api_key_blocked: true, api_key_disabled: false, team_blocked: false } });
    assert.equal((await verifyCredential(catalog.provider('xai')!, credential('xai', fake.url + basePath('xai')), send)).result, 'invalid');
  });
});

describe('Bedrock: ListFoundationModels on the control-plane host, signed with SigV4', () => {
  const bedrock = catalog.provider('bedrock')!;

  test('the check goes to bedrock.<region>.amazonaws.com, the region taken from the credential string first', () => {
    const built = validationRequest(bedrock, credential('bedrock', null, { secret: new Secret(TEST_AWS_CREDENTIAL_STRING), region: 'eu-west-3' }));
    assert.ok('request' in built);
    assert.equal(built.request.method, 'GET');
    assert.equal(built.request.url, `https://bedrock.${TEST_AWS.region}.amazonaws.com/foundation-models`);
  });

  test('the call carries a SigV4 signature that verifies for service bedrock (the signer is built in, nothing to register)', async () => {
    let captured: OutboundRequest | null = null;
    const stub: Send = async (req) => {
      captured = req;
      const body = Buffer.from('{"modelSummaries":[]}');
      return { statusCode: 200, headers: { 'content-type': 'application/json' }, body: { bytes: async () => body, forEachChunk: async () => 'end', destroy() {} } };
    };
    const verdict = await verifyCredential(bedrock, credential('bedrock', null, { secret: new Secret(TEST_AWS_CREDENTIAL_STRING) }), stub);
    assert.equal(verdict.result, 'valid');
    const req = captured as OutboundRequest | null;
    assert.ok(req);
    const url = new URL(req.url);
    assert.equal(url.host, `bedrock.${TEST_AWS.region}.amazonaws.com`);
    const headers = Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k.toLowerCase(), v]));
    const seen: SeenRequest = { method: req.method, url: url.pathname + url.search, path: url.pathname, headers, body: Buffer.alloc(0), json: () => null };
    assert.deepEqual(await verifySigV4(seen), { ok: true });
  });

  test('a malformed credential string is invalid, not sent', async () => {
    const verdict = await verifyCredential(bedrock, credential('bedrock', null, { secret: new Secret('only-one-part'), region: 'us-east-1' }), async () => {
      throw new Error('must not be sent');
    });
    assert.equal(verdict.result, 'invalid');
  });
});
