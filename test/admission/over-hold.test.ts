/**
 * A hostile or buggy upstream reports usage far above the request's hold (10 M prompt tokens on a
 * model with a much smaller context window): what the provider reported is booked, flagged
 * `over_hold` in the ledger, counted in a metric, and the org is refused (402) until its balance is
 * positive again; a top-up makes it spendable again.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { FakeUpstream } from '../support/fake-upstream.ts';
import { fixtureJson } from '../support/fixtures.ts';
import { CALLER_KEYS, ledgerCharges, startTestGateway, type TestGateway } from '../support/gateway.ts';

describe('usage far above the hold', () => {
  let upstream: FakeUpstream;
  let gw: TestGateway;
  before(async () => {
    upstream = await FakeUpstream.start();
    const honest = fixtureJson('openai/openai-text.json');
    let calls = 0;
    upstream.on('POST', '/v1/chat/completions', () => {
      calls++;
      // The first answer claims 10 M prompt tokens; later ones are the honest recording.
      return { json: calls === 1 ? { ...honest, usage: { ...honest.usage, prompt_tokens: 10_000_000, total_tokens: 10_000_363 } } : honest };
    });
    gw = await startTestGateway({
      upstream,
      config: {
        plans: { prepaid: {} },
        orgs: [{ id: 'acme', name: 'Acme', plan: 'prepaid', wallet: { grants: [{ id: 'seed', credits: '70' }] } }, { id: 'globex', name: 'Globex' }],
      },
    });
  });
  after(async () => {
    await gw.close();
    await upstream.close();
  });

  const chat = () =>
    fetch(`${gw.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${CALLER_KEYS.member}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'gpt-4.1-nano', messages: [{ role: 'user', content: 'Hi' }], max_tokens: 1000 }),
    });
  const balance = async () =>
    (await (
      await fetch(`${gw.opsUrl}/orgs/acme/balance`, { headers: { authorization: `Bearer ${CALLER_KEYS.owner}`, 'x-organization-id': 'acme' } })
    ).json()) as { wallet: { balance: string }; available: string };

  test('booked as flagged debt, then the org is refused until a top-up makes its balance positive', async () => {
    assert.equal((await chat()).status, 200);
    const [charge] = await gw.usage();
    assert.ok(Number(charge!.credits) > 1000, `the reported usage is what was booked (${charge!.credits})`);
    const entry = ledgerCharges(`${gw.dir}/data`)[0] as unknown as Record<string, unknown>;
    assert.equal(entry.over_hold, true, 'the ledger entry is flagged for review');
    assert.match(await gw.metrics(), /^tollbooth_over_hold_charges_total\{provider="openai",model="[^"]+"\} 1$/m);
    assert.ok(Number((await balance()).wallet.balance) < 0, 'the wallet is in debt');

    const refused = await chat();
    assert.equal(refused.status, 402);
    assert.equal(((await refused.json()) as { code: string }).code, 'credits_exhausted');
    assert.equal(upstream.requests.length, 1, 'the refused call never reached the upstream');

    const debt = -Number((await balance()).wallet.balance);
    const topUp = await fetch(`${gw.opsUrl}/orgs/acme/wallet/top-ups`, {
      method: 'POST',
      headers: { authorization: `Bearer ${CALLER_KEYS.operator}`, 'x-organization-id': 'acme', 'content-type': 'application/json' },
      body: JSON.stringify({ credits: String(Math.ceil(debt) + 20) }),
    });
    assert.equal(topUp.status, 201);
    assert.equal((await chat()).status, 200, 'served again once the balance is positive');
  });
});
