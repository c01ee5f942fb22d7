/**
 * Plans through the real sidecar: models and providers outside the plan get a 403 DenialEnvelope
 * before any upstream call; BYOK calls skip the credit check (recorded at 0 credits, still
 * rate-limited); managed charges are paid from the period allowance first, then the wallet.
 */
import assert from 'node:assert/strict';
import { readLedger } from '../support/ledger.ts';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import OpenAI from 'openai';
import { FakeUpstream } from '../support/fake-upstream.ts';
import { fixtureJson } from '../support/fixtures.ts';
import { CALLER_KEYS, startTestGateway, type TestGateway } from '../support/gateway.ts';

/** Response bodies are read as the untyped JSON the test then checks. */
const json = (res: Response): Promise<any> => res.json();

/** Exact decimal credits → integer pico-credits, written here so the test does not lean on src/. */
function pico(credits: string): bigint {
  const [whole, frac = ''] = credits.split('.');
  return BigInt(whole!) * 10n ** 12n + BigInt(frac.padEnd(12, '0'));
}

describe('plans', () => {
  let upstream: FakeUpstream;
  let gw: TestGateway;

  before(async () => {
    upstream = await FakeUpstream.start();
    upstream.on('POST', '/v1/chat/completions', { json: fixtureJson('openai/openai-text.json') });
    upstream.on('POST', '/openai/v1/chat/completions', { json: fixtureJson('groq/groq-text.json') });
    upstream.on('POST', '/v1/embeddings', { json: fixtureJson('openai/openai-embedding.json') });
    gw = await startTestGateway({
      upstream,
      credentials: { groq: { billing: 'byok' } },
      config: {
        plans: {
          starter: {
            allowance: { credits: '1.5', period: 'daily' },
            models: ['gpt-6-luna', 'deepseek-chat', 'llama-3.3-70b-versatile'],
            providers: ['openai', 'groq'],
          },
          byok_only: { limits: { per_org: { rpm: 2 } } },
        },
        orgs: [
          { id: 'acme', name: 'Acme', plan: 'starter', wallet: { grants: [{ id: 'seed', credits: '10' }] } },
          { id: 'globex', name: 'Globex', plan: 'byok_only' },
        ],
      },
    });
  });
  after(async () => {
    await gw.close();
    await upstream.close();
  });

  async function chat(key: string, model: string): Promise<Response> {
    return fetch(`${gw.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model, messages: [{ role: 'user', content: 'Hi' }], max_tokens: 1000 }),
    });
  }

  function ledgerEntries(): any[] {
    return readLedger(join(gw.dir, 'data'));
  }

  test('a model outside the plan: 403 model_not_in_plan, nothing sent upstream', async () => {
    const before = upstream.requests.length;
    const res = await chat(CALLER_KEYS.member, 'mistral-small-latest');
    assert.equal(res.status, 403);
    const served = gw.catalog().resolve('mistral-small-latest').model.model_id;
    assert.deepEqual(await json(res), {
      code: 'model_not_in_plan',
      layer: 'org',
      key: 'acme',
      current: served,
      limit: ['gpt-6-luna', 'deepseek-chat', 'llama-3.3-70b-versatile'],
      reason: `The model '${served}' is not in the plan 'starter' of organization 'acme'.`,
    });
    assert.equal(upstream.requests.length, before);
  });

  test('a model in the plan served by a provider outside it: 403 provider_not_in_plan', async () => {
    const before = upstream.requests.length;
    const res = await chat(CALLER_KEYS.member, 'deepseek-chat');
    assert.equal(res.status, 403);
    const body = await json(res);
    assert.deepEqual([body.code, body.layer, body.key, body.current, body.limit], ['provider_not_in_plan', 'org', 'acme', ['deepseek'], ['openai', 'groq']]);
    assert.equal(upstream.requests.length, before);
  });

  test('spend order: the period allowance first, then the wallet; the split is in each charge', async () => {
    const sdk = gw.openai(CALLER_KEYS.member);
    const first = await sdk.chat.completions.create({ model: 'gpt-6-luna', messages: [{ role: 'user', content: 'Hi' }], max_tokens: 1000 });
    const second = await sdk.chat.completions.create({ model: 'gpt-6-luna', messages: [{ role: 'user', content: 'Hi' }], max_tokens: 1000 });
    await gw.gateway.recorder.flush();
    const charges = ledgerEntries().filter((e) => e.type === 'charge' && e.org === 'acme');
    const [a, b] = [first._request_id, second._request_id].map((id) => charges.find((c) => c.request_id === id));
    assert.ok(a && b);
    const day = new Date().toISOString().slice(0, 10);
    assert.equal(a.period, day);
    assert.equal(pico(a.from_allowance), pico(a.credits), 'the first charge fits the allowance');
    assert.equal(pico(a.from_wallet), 0n);
    assert.equal(pico(b.from_allowance), pico('1.5') - pico(a.credits), 'the second takes what is left of it');
    assert.equal(pico(b.from_allowance) + pico(b.from_wallet), pico(b.credits), '…and the rest from the wallet');

    const balance = await json(
      await fetch(`${gw.opsUrl}/orgs/acme/balance`, { headers: { authorization: `Bearer ${CALLER_KEYS.owner}`, 'x-organization-id': 'acme' } }),
    );
    assert.deepEqual(balance.allowance, { period: 'daily', current_period: day, credits: '1.5', used: '1.5', remaining: '0' });
    assert.equal(pico(balance.wallet.balance), pico('10') - pico(b.from_wallet));
    assert.equal(balance.plan, 'starter');
  });

  test('native passthrough is admitted the same way: 402 before any upstream call', async () => {
    const before = upstream.requests.length;
    const native = new OpenAI({ apiKey: CALLER_KEYS.otherOrg, baseURL: `${gw.url}/openai/v1`, maxRetries: 0 });
    const err = await native.chat.completions.create({ model: 'gpt-6-luna', messages: [{ role: 'user', content: 'Hi' }], max_tokens: 10 }).then(
      () => assert.fail('admitted'),
      (e) => e,
    );
    assert.equal(err.status, 402);
    assert.equal(err.error.code, 'credits_exhausted');
    assert.equal(err.error.key, 'globex');
    assert.equal(upstream.requests.length, before);
  });

  test('BYOK calls skip the credit check (0 credits) but are rate-limited; managed ones need credits', async () => {
    const managed = await chat(CALLER_KEYS.otherOrg, 'gpt-6-luna');
    assert.equal(managed.status, 402, 'globex has no allowance and an empty wallet');
    assert.equal((await json(managed)).code, 'credits_exhausted');

    const byok = gw.openai(CALLER_KEYS.otherOrg);
    const ids: string[] = [];
    for (let i = 0; i < 2; i++) {
      const c = await byok.chat.completions.create({ model: 'llama-3.3-70b-versatile', messages: [{ role: 'user', content: 'Hi' }] });
      ids.push(c._request_id!);
    }
    const limited = await chat(CALLER_KEYS.otherOrg, 'llama-3.3-70b-versatile');
    assert.equal(limited.status, 429, 'the 402 took no rate-limit token; the two BYOK calls did');
    assert.equal((await json(limited)).code, 'rpm_exceeded');

    await gw.gateway.recorder.flush();
    const charges = ledgerEntries().filter((e) => e.type === 'charge' && ids.includes(e.request_id));
    assert.equal(charges.length, 2);
    for (const c of charges) {
      assert.equal(c.billing, 'byok');
      assert.equal(c.credits, '0');
      assert.ok(c.prompt_tokens > 0, 'BYOK usage is still recorded');
    }
  });
});
