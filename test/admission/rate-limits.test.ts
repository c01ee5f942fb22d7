/**
 * RPM/TPM limits per key and per org: a 429 DenialEnvelope with a Retry-After that is exactly long
 * enough (the request passes once it has elapsed, not a second sooner), before any upstream call.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Caller } from '../../src/admission/caller-auth.ts';
import { MemoryStateStore } from '../../src/state/memory-store.ts';
import { DenialError } from '../../src/admission/denial.ts';
import { AdmissionGate, type AdmissionRequest } from '../../src/admission/gate.ts';
import type { TollboothConfig } from '../../src/config/types.ts';
import { Accounts } from '../../src/metering/ledger/accounts.ts';
import type { UsageRecord } from '../../src/metering/record.ts';
import type { Target } from '../../src/routing/target.ts';
import { loadTestCatalog } from '../support/catalog.ts';
import { FakeUpstream } from '../support/fake-upstream.ts';
import { fixtureJson } from '../support/fixtures.ts';
import { CALLER_KEYS, startTestGateway, type TestGateway } from '../support/gateway.ts';

/** Response bodies are read as the untyped JSON the test then checks. */
const json = (res: Response): Promise<any> => res.json();

describe('rate limits through the sidecar', () => {
  let upstream: FakeUpstream;
  let gw: TestGateway;
  /** When the buckets' first token was taken: refill since then may shave a second off Retry-After. */
  let firstAt = 0;
  const retryAfterWithin = (value: string | null, full: number) => {
    const elapsed = (performance.now() - firstAt) / 1000;
    assert.ok(Number(value) <= full && Number(value) >= Math.floor(full - elapsed), `Retry-After ${value} for ${full} s less ${elapsed.toFixed(2)} s of refill`);
  };

  before(async () => {
    upstream = await FakeUpstream.start();
    upstream.on('POST', '/v1/chat/completions', { json: fixtureJson('openai/openai-text.json') });
    gw = await startTestGateway({
      upstream,
      config: {
        plans: { metered: { allowance: { credits: '1000000', period: 'monthly' }, limits: { per_key: { rpm: 2 }, per_org: { rpm: 3 } } } },
        orgs: [
          { id: 'acme', name: 'Acme', plan: 'metered' },
          { id: 'globex', name: 'Globex' },
        ],
      },
    });
  });
  after(async () => {
    await gw.close();
    await upstream.close();
  });

  async function chat(key: string): Promise<Response> {
    return fetch(`${gw.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'gpt-4.1-nano', messages: [{ role: 'user', content: 'Hi' }] }),
    });
  }

  test('per key: the third request in a minute gets 429 with Retry-After 30 (one request refills every 30 s at 2 rpm)', async () => {
    const sdk = gw.openai(CALLER_KEYS.member);
    firstAt = performance.now();
    for (let i = 0; i < 2; i++) await sdk.chat.completions.create({ model: 'gpt-4.1-nano', messages: [{ role: 'user', content: 'Hi' }] });
    const seen = upstream.requests.length;

    const denied = await sdk.chat.completions.create({ model: 'gpt-4.1-nano', messages: [{ role: 'user', content: 'Hi' }] }).then(
      () => assert.fail('the third request passed'),
      (err) => err,
    );
    assert.equal(denied.status, 429);
    retryAfterWithin(denied.headers.get('retry-after'), 30);

    const res = await chat(CALLER_KEYS.member);
    assert.equal(res.status, 429);
    retryAfterWithin(res.headers.get('retry-after'), 30);
    assert.deepEqual(await json(res), {
      code: 'rpm_exceeded',
      layer: 'key',
      key: 'acme-app',
      current: 2,
      limit: 2,
      reason: "The key 'acme-app' is limited to 2 requests per minute; retry after the Retry-After delay.",
    });
    assert.equal(upstream.requests.length, seen, 'a denied request never reaches the upstream');
  });

  test('per org: another key of the same org has its own bucket until the org limit (3 rpm) is reached', async () => {
    const owner = await chat(CALLER_KEYS.owner);
    assert.equal(owner.status, 200, 'the owner key has its own per-key bucket');
    const second = await chat(CALLER_KEYS.owner);
    assert.equal(second.status, 429);
    // 60 s / 3 rpm = 20 s for one request to refill.
    retryAfterWithin(second.headers.get('retry-after'), 20);
    const body = await json(second);
    assert.deepEqual([body.code, body.layer, body.key, body.current, body.limit], ['rpm_exceeded', 'org', 'acme', 3, 3]);

    const other = await chat(CALLER_KEYS.otherOrg);
    assert.equal(other.status, 200, 'an org without a plan is not limited');
    assert.match(await gw.metrics(), /^tollbooth_admission_denials_total\{code="rpm_exceeded",layer="org"\} 1$/m);
  });
});

describe('rate limit arithmetic (admission gate, moved clock)', () => {
  const catalog = loadTestCatalog();
  const model = catalog.resolve('gpt-4.1-nano').model;
  // BYOK: no credit hold, so only the rate limits decide.
  const target = { provider: catalog.provider('openai')!, model, credential: { billing: 'byok' } } as unknown as Target;
  const caller: Caller = { keyId: 'k1', orgId: 'acme', role: 'member' };

  function gate(limits: Record<string, unknown>) {
    let now = 1_000_000;
    const config = { orgs: [{ id: 'acme', plan: 'p', wallet: { grants: [] } }], plans: { p: { allowance: null, models: null, providers: null, limits } } } as unknown as TollboothConfig;
    const g = new AdmissionGate({ store: new MemoryStateStore(new Accounts()), now: () => now });
    const request = (inputBytes: number, body: unknown = {}): AdmissionRequest => ({
      caller,
      config,
      model,
      requestedModel: model.model_id,
      operation: 'chat',
      targets: [target],
      inputBytes,
      body,
    });
    return { gate: g, request, advance: (ms: number) => (now += ms) };
  }

  async function retryAfter(p: Promise<unknown>): Promise<number> {
    const err = await p.then(
      () => assert.fail('admitted'),
      (e) => e,
    );
    assert.ok(err instanceof DenialError);
    return Number(err.headers['retry-after']);
  }

  test('RPM: after Retry-After seconds the request passes; a second earlier it does not', async () => {
    const { gate: g, request, advance } = gate({ per_key: { rpm: 7, tpm: null }, per_org: { rpm: null, tpm: null } });
    for (let i = 0; i < 7; i++) (await g.admit(request(10))).release();
    const wait = await retryAfter(g.admit(request(10)));
    assert.equal(wait, Math.ceil(60 / 7));
    advance((wait - 1) * 1000);
    assert.equal(await retryAfter(g.admit(request(10))), 1);
    advance(1000);
    (await g.admit(request(10))).release();
  });

  test('TPM: settled tokens beyond the estimate are debt that later requests wait out', async () => {
    const { gate: g, request, advance } = gate({ per_key: { rpm: null, tpm: 600 }, per_org: { rpm: null, tpm: null } });
    // 400 bytes → 100 tokens counted up front; the provider then reports 700 in all.
    const admitted = await g.admit(request(400));
    admitted.settle({ prompt_tokens: 300, completion_tokens: 400 } as UsageRecord);
    // 600 − 700 = −100 in the bucket; the next request needs 100 → 200 tokens at 10 tokens/s = 20 s.
    const wait = await retryAfter(g.admit(request(400)));
    assert.equal(wait, 20);
    advance(19_000);
    await retryAfter(g.admit(request(400)));
    advance(1_000);
    (await g.admit(request(400))).release();
  });

  test('TPM: a request larger than the whole minute passes on a full bucket (its excess is waited out afterwards)', async () => {
    const { gate: g, request } = gate({ per_key: { rpm: null, tpm: 100 }, per_org: { rpm: null, tpm: null } });
    const big = await g.admit(request(4000, { max_tokens: 50 }));
    big.settle({ prompt_tokens: 1000, completion_tokens: 50 } as UsageRecord);
    // −950 after settling: 1050 tokens to refill before the next request of 25 tokens, at 100/60 per second.
    assert.equal(await retryAfter(g.admit(request(100))), Math.ceil((950 + 25) / (100 / 60)));
  });
});
