/**
 * Concurrent requests can never spend more than the org has: 100 simultaneous requests (official
 * openai SDK, real sidecar) against a wallet that affords exactly 10 worst-case holds. Exactly 10
 * reach the upstream and are charged; 90 get the 402 DenialEnvelope before any upstream call; the
 * balance never goes negative.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { loadTestCatalog } from '../support/catalog.ts';
import { FakeUpstream } from '../support/fake-upstream.ts';
import { fixtureJson } from '../support/fixtures.ts';
import { CALLER_KEYS, ledgerCharges, startTestGateway, type TestGateway } from '../support/gateway.ts';

/** Response bodies are read as the untyped JSON the test then checks. */
const json = (res: Response): Promise<any> => res.json();

const MODEL = 'gpt-4.1-nano';
const MAX_TOKENS = 1000;
const PARAMS = { model: MODEL, messages: [{ role: 'user' as const, content: 'Hello' }], max_tokens: MAX_TOKENS };
const RECORDING = 'openai/openai-text.json';

describe('credit holds under concurrency', () => {
  let upstream: FakeUpstream;
  let gw: TestGateway;
  let hold: number;
  let wallet: string;

  before(async () => {
    upstream = await FakeUpstream.start();
    const model = loadTestCatalog().resolve(MODEL).model;
    // The worst case, from the documented rule: input ≤ the body's bytes at the dearest input class,
    // output ≤ max_tokens at the dearest output class, at the dearest service tier (the body is far
    // below any context tier), + RUN_CREDIT.
    const bodyBytes = Buffer.byteLength(JSON.stringify(PARAMS));
    const sets: any[] = [model, ...Object.values(model.service_tiers ?? {})];
    const dearest = (set: any, fields: string[]) => Math.max(...fields.map((f) => set[f] ?? 0));
    const inputFields = ['input_usd_per_1m', 'cache_read_usd_per_1m', 'cache_write_5m_usd_per_1m', 'cache_write_1h_usd_per_1m', 'audio_input_usd_per_1m', 'image_input_usd_per_1m'];
    const outputFields = ['output_usd_per_1m', 'reasoning_usd_per_1m', 'audio_output_usd_per_1m', 'image_output_usd_per_1m'];
    hold = 1 + Math.max(...sets.map((set) => (bodyBytes * dearest(set, inputFields) + MAX_TOKENS * dearest(set, outputFields)) / 1e6)) * 1.05 * 1000;
    // Ten holds fit, an eleventh does not (half a hold of slack either way).
    wallet = (hold * 10.5).toFixed(6);
    gw = await startTestGateway({
      upstream,
      config: {
        plans: { prepaid: {} },
        orgs: [
          { id: 'acme', name: 'Acme', plan: 'prepaid', wallet: { grants: [{ id: 'seed', credits: wallet }] } },
          { id: 'globex', name: 'Globex' },
        ],
      },
    });
  });
  after(async () => {
    await gw.close();
    await upstream.close();
  });

  test('100 simultaneous requests, a wallet for 10: 10 served and charged, 90 × 402, never negative', async () => {
    const recording = fixtureJson(RECORDING);
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    // Admitted requests wait at the upstream until every denial is in: no hold is released early.
    upstream.on('POST', '/v1/chat/completions', async () => {
      await released;
      return { json: recording };
    });

    const denials: any[] = [];
    const client = gw.openai(CALLER_KEYS.member, {
      fetch: async (url: any, init: any) => {
        const res = await fetch(url, init);
        if (res.status === 402) {
          denials.push(await json(res.clone()));
          if (denials.length === 90) release();
        }
        return res;
      },
    });
    const results = await Promise.allSettled(Array.from({ length: 100 }, () => client.chat.completions.create(PARAMS)));

    const served = results.filter((r) => r.status === 'fulfilled');
    const refused = results.filter((r) => r.status === 'rejected').map((r) => (r as PromiseRejectedResult).reason);
    assert.equal(served.length, 10);
    assert.equal(refused.length, 90);
    assert.ok(refused.every((e) => e.status === 402), 'every refusal is a 402');
    assert.equal(upstream.requests.length, 10, 'only the admitted requests reached the upstream');
    assert.equal(denials.length, 90);
    for (const body of denials) {
      assert.deepEqual(Object.keys(body).sort(), ['code', 'current', 'key', 'layer', 'limit', 'reason']);
      assert.equal(body.code, 'credits_exhausted');
      assert.equal(body.layer, 'org');
      assert.equal(body.key, 'acme');
      assert.ok(Math.abs(Number(body.limit) - hold) < 1e-6, `the denial names the request's hold (${body.limit} vs ${hold})`);
      assert.ok(Number(body.current) < Number(body.limit) && Number(body.current) >= 0);
      assert.match(body.reason, /may cost up to/);
    }

    await gw.gateway.recorder.flush();
    const charges = ledgerCharges(`${gw.dir}/data`).filter((c) => c.org === 'acme');
    assert.equal(charges.length, 10, 'one charge per served request');
    const usage = recording.usage;
    const model = gw.catalog().resolve(MODEL).model;
    const each = 1 + ((usage.prompt_tokens * model.input_usd_per_1m! + usage.completion_tokens * model.output_usd_per_1m!) / 1e6) * 1.05 * 1000;
    for (const c of charges) assert.ok(Math.abs(Number(c.credits) - each) < 1e-9);

    const balance = await json(
      await fetch(`${gw.opsUrl}/orgs/acme/balance`, { headers: { authorization: `Bearer ${CALLER_KEYS.owner}`, 'x-organization-id': 'acme' } }),
    );
    assert.equal(balance.reserved, '0', 'every hold was released');
    assert.ok(Number(balance.wallet.balance) >= 0, 'the wallet never goes negative');
    assert.ok(Math.abs(Number(balance.wallet.balance) - (Number(wallet) - 10 * each)) < 1e-6);
    assert.equal(balance.available, balance.wallet.balance);
  });
});
