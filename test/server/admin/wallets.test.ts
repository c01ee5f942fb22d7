/**
 * The wallet API on the ops listener: an operator key tops up any org's wallet, an owner/admin key
 * reads its own org's balance (and cannot grant itself credits); anything else is a `{detail}`
 * error (400/401/403/404). A top-up is in the ledger when the answer comes, and lifts a 402 at once.
 */
import assert from 'node:assert/strict';
import { ledgerGrantEntries } from '../../support/ledger.ts';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { FakeUpstream } from '../../support/fake-upstream.ts';
import { fixtureJson } from '../../support/fixtures.ts';
import { CALLER_KEYS, startTestGateway, type TestGateway } from '../../support/gateway.ts';

/** Response bodies are read as the untyped JSON the test then checks. */
const json = (res: Response): Promise<any> => res.json();

describe('wallet admin API', () => {
  let upstream: FakeUpstream;
  let gw: TestGateway;

  before(async () => {
    upstream = await FakeUpstream.start();
    upstream.on('POST', '/v1/chat/completions', { json: fixtureJson('openai/openai-text.json') });
    gw = await startTestGateway({
      upstream,
      config: {
        plans: { prepaid: { allowance: { credits: '0.5', period: 'monthly' } } },
        orgs: [
          { id: 'acme', name: 'Acme', plan: 'prepaid' },
          { id: 'globex', name: 'Globex' },
        ],
      },
    });
  });
  after(async () => {
    await gw.close();
    await upstream.close();
  });

  function admin(method: string, path: string, options: { key?: string | null; org?: string | null; body?: unknown } = {}) {
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    const key = options.key === undefined ? CALLER_KEYS.owner : options.key;
    const org = options.org === undefined ? 'acme' : options.org;
    if (key !== null) headers.authorization = `Bearer ${key}`;
    if (org !== null) headers['x-organization-id'] = org;
    return fetch(`${gw.opsUrl}${path}`, { method, headers, body: options.body === undefined ? undefined : JSON.stringify(options.body) });
  }

  function grantsOnDisk(): any[] {
    return ledgerGrantEntries(join(gw.dir, 'data'));
  }

  async function chat(): Promise<Response> {
    return fetch(`${gw.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${CALLER_KEYS.member}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'gpt-6-luna', messages: [{ role: 'user', content: 'Hi' }], max_tokens: 1000 }),
    });
  }

  test('a top-up lands in the ledger before the answer and lifts a 402 at once', async () => {
    assert.equal((await chat()).status, 402, 'half a credit of allowance does not cover RUN_CREDIT');

    const res = await admin('POST', '/orgs/acme/wallet/top-ups', { key: CALLER_KEYS.operator, body: { credits: '25.000000000001', id: 'invoice-42', note: 'May invoice' } });
    assert.equal(res.status, 201);
    const entry = await json(res);
    assert.deepEqual(
      [entry.type, entry.org, entry.kind, entry.grant_id, entry.credits, entry.source, entry.by, entry.note],
      ['grant', 'acme', 'top_up', 'invoice-42', '25.000000000001', 'admin', 'platform-operator', 'May invoice'],
    );
    const onDisk = grantsOnDisk().find((g) => g.grant_id === 'invoice-42');
    assert.equal(onDisk?.hash, entry.hash, 'the entry is on disk when the API answers');

    const again = await admin('POST', '/orgs/acme/wallet/top-ups', { key: CALLER_KEYS.operator, body: { credits: '25.000000000001', id: 'invoice-42' } });
    assert.equal(again.status, 200, 'a retried top-up applies once');
    assert.equal((await json(again)).seq, entry.seq);
    const clash = await admin('POST', '/orgs/acme/wallet/grants', { key: CALLER_KEYS.operator, body: { credits: '3', id: 'invoice-42' } });
    assert.equal(clash.status, 409);
    assert.match((await json(clash)).detail, /already used/);
    assert.equal(grantsOnDisk().filter((g) => g.grant_id === 'invoice-42').length, 1);

    assert.equal((await chat()).status, 200);
    await gw.gateway.recorder.flush();
    const balance = await json(await admin('GET', '/orgs/acme/balance'));
    assert.equal(balance.org, 'acme');
    assert.equal(balance.wallet.granted, '25.000000000001');
    assert.equal(balance.allowance.remaining, '0');
    assert.equal(balance.reserved, '0');
    assert.equal(balance.available, balance.wallet.balance);
    const charged = Number(balance.charged);
    assert.ok(Math.abs(Number(balance.wallet.balance) - (25.000000000001 - (charged - 0.5))) < 1e-9);
  });

  test('grants: 201 with a generated id when none is given', async () => {
    const res = await admin('POST', '/orgs/acme/wallet/grants', { key: CALLER_KEYS.operator, body: { credits: 2 } });
    assert.equal(res.status, 201);
    const entry = await json(res);
    assert.equal(entry.kind, 'grant');
    assert.equal(entry.credits, '2');
    assert.match(entry.grant_id, /^[0-9a-f-]{36}$/);
  });

  test('the operator tops up another org and reads its balance', async () => {
    const res = await admin('POST', '/orgs/globex/wallet/top-ups', { key: CALLER_KEYS.operator, body: { credits: '7', id: 'globex-1' } });
    assert.equal(res.status, 201);
    assert.equal((await json(res)).org, 'globex');
    const balance = await json(await admin('GET', '/orgs/globex/balance', { key: CALLER_KEYS.operator }));
    assert.equal(balance.wallet.granted, '7');
  });

  test('errors are {detail} with 400, 401, 403 and 404', async () => {
    const cases: [string, Promise<Response>, number, RegExp][] = [
      ['an owner granting its own org credits', admin('POST', '/orgs/acme/wallet/top-ups', { body: { credits: '1' } }), 403, /needs an operator key/],
      ['an unknown org, even for the operator', admin('POST', '/orgs/nobody/wallet/top-ups', { key: CALLER_KEYS.operator, body: { credits: '1' } }), 404, /Unknown organization/],
      ['another org’s balance', admin('GET', '/orgs/globex/balance'), 403, /not 'globex'/],
      ['X-Organization-ID not the key’s org', admin('GET', '/orgs/acme/balance', { org: 'globex' }), 403, /.+/],
      ['no X-Organization-ID', admin('GET', '/orgs/acme/balance', { org: null }), 400, /X-Organization-ID header is required/],
      ['a member key', admin('GET', '/orgs/acme/balance', { key: CALLER_KEYS.member }), 403, /owner or admin/],
      ['no key', admin('GET', '/orgs/acme/balance', { key: null }), 401, /.+/],
      ['a negative amount', admin('POST', '/orgs/acme/wallet/top-ups', { key: CALLER_KEYS.operator, body: { credits: '-5' } }), 400, /positive decimal/],
      ['too many decimals', admin('POST', '/orgs/acme/wallet/top-ups', { key: CALLER_KEYS.operator, body: { credits: '1.0000000000001' } }), 400, /at most 12 decimals/],
      ['no amount', admin('POST', '/orgs/acme/wallet/top-ups', { key: CALLER_KEYS.operator, body: {} }), 400, /'credits'/],
      ['a bad id', admin('POST', '/orgs/acme/wallet/top-ups', { key: CALLER_KEYS.operator, body: { credits: '1', id: 'a b' } }), 400, /'id'/],
    ];
    for (const [what, pending, status, detail] of cases) {
      const res = await pending;
      assert.equal(res.status, status, what);
      const body = await json(res);
      assert.deepEqual(Object.keys(body), ['detail'], what);
      assert.match(body.detail, detail, what);
    }
  });
});
