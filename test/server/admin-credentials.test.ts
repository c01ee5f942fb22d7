/**
 * The credential API on the ops listener, through the real sidecar: who may call it, what it stores
 * (encrypted, never a key in the file or in an answer), how an org's own default credential takes
 * over that org's traffic (and only that org's), verification on test and rotate, and persistence
 * across a reload and a restart.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { FakeUpstream, type SeenRequest } from '../support/fake-upstream.ts';
import { fixtureJson } from '../support/fixtures.ts';
import { CALLER_KEYS, providerKey, startTestGateway, type TestGateway } from '../support/gateway.ts';
import { TEST_AWS } from '../providers/bedrock/bedrock-upstream.ts';

const RECORDED = fixtureJson('openai/openai-text.json');
const OPENAI_401 = fixtureJson('_transcribed/error-bodies-from-public-reports.json').errors.find((e: any) => e.provider === 'openai' && e.status === 401);
const STORE_KEY = randomBytes(32).toString('base64');
const GLOBEX_OWNER = 'tb-test-globex-owner-key';
const sha = (key: string) => `sha256:${createHash('sha256').update(key).digest('hex')}`;
const orgKey = (label: string) => `sk-org-${label}-${randomBytes(10).toString('hex')}`;

/** Every way a key's bytes could show up in a file or an answer. */
function encodings(secret: string): string[] {
  const bytes = Buffer.from(secret, 'utf8');
  return [secret, bytes.toString('base64'), bytes.toString('base64url'), bytes.toString('hex')];
}

interface Answer {
  status: number;
  body: any;
  text: string;
}

function adminClient(gw: () => TestGateway) {
  return async (method: string, path: string, options: { key?: string | null; org?: string | null; body?: unknown } = {}): Promise<Answer> => {
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    const key = options.key === undefined ? CALLER_KEYS.owner : options.key;
    const org = options.org === undefined ? 'acme' : options.org;
    if (key !== null) headers.authorization = `Bearer ${key}`;
    if (org !== null) headers['x-organization-id'] = org;
    const res = await fetch(gw().opsUrl + path, { method, headers, body: options.body === undefined ? undefined : JSON.stringify(options.body) });
    const text = await res.text();
    return { status: res.status, body: JSON.parse(text), text };
  };
}

describe('credential API', () => {
  let fake: FakeUpstream;
  let gw: TestGateway;
  let storeDir: string;
  const valid = new Set<string>();
  const admin = adminClient(() => gw);
  const start = (storeKey: string | null = STORE_KEY) =>
    startTestGateway({
      upstream: fake,
      config: {
        credential_store: { path: join(storeDir, 'credentials.enc'), key: storeKey === null ? null : { env: 'TB_STORE_KEY' } },
        keys: [
          { id: 'acme-app', org: 'acme', role: 'member', hash: sha(CALLER_KEYS.member) },
          { id: 'acme-owner', org: 'acme', role: 'owner', hash: sha(CALLER_KEYS.owner) },
          { id: 'globex-app', org: 'globex', role: 'member', hash: sha(CALLER_KEYS.otherOrg) },
          { id: 'globex-admin', org: 'globex', role: 'admin', hash: sha(GLOBEX_OWNER) },
        ],
      },
      env: storeKey === null ? {} : { TB_STORE_KEY: storeKey },
    });
  const chat = async (key: string, content: string): Promise<SeenRequest> => {
    await gw.openai(key).chat.completions.create({ model: 'gpt-4.1-nano', messages: [{ role: 'user', content }] });
    return fake.requests.findLast((r) => r.path === '/v1/chat/completions' && r.json().messages[0].content === content)!;
  };

  before(async () => {
    fake = await FakeUpstream.start();
    fake.on('GET', '/v1/models', (req) => (valid.has(String(req.headers.authorization).replace('Bearer ', '')) ? { json: { object: 'list', data: [] } } : { status: 401, json: OPENAI_401.body }));
    fake.on('POST', '/v1/chat/completions', { json: RECORDED });
    storeDir = mkdtempSync(join(tmpdir(), 'tollbooth-store-'));
    gw = await start();
  });
  after(async () => {
    await gw.close();
    await fake.close();
    rmSync(storeDir, { recursive: true, force: true });
  });

  test('every credential route: no key → 401, member → 403, another org → 403, no org header → 400', async () => {
    const routes = [
      ['POST', '/credentials'],
      ['POST', '/credentials/test-temporary'],
      ['GET', '/credentials'],
      ['GET', '/credentials/cred_x'],
      ['DELETE', '/credentials/cred_x'],
      ['POST', '/credentials/cred_x/rotate'],
    ] as const;
    for (const [method, path] of routes) {
      const body = method === 'POST' ? { provider_name: 'openai', name: 'x', auth_data: { api_key: 'sk-x' } } : undefined;
      const cases: [string, { key?: string | null; org?: string | null }, number][] = [
        ['missing key', { key: null }, 401],
        ['unknown key', { key: 'tb-not-a-key' }, 401],
        ['member', { key: CALLER_KEYS.member }, 403],
        ['another org', { org: 'globex' }, 403],
        ['no X-Organization-ID', { org: null }, 400],
        ['an empty X-Organization-ID', { org: '' }, 400],
      ];
      for (const [label, who, status] of cases) {
        const answer = await admin(method, path, { ...who, body });
        assert.equal(answer.status, status, `${method} ${path} (${label})`);
        assert.equal(typeof answer.body.detail, 'string', `${method} ${path} (${label}) answers {detail}`);
        if (status === 400) assert.match(answer.body.detail, /X-Organization-ID header is required/);
      }
    }
    assert.deepEqual((await admin('GET', '/credentials')).body, { credentials: [] }, 'nothing was created on the way');
  });

  test("an org's default credential serves that org's requests, byok; other orgs keep the operator's key", async () => {
    const key = orgKey('first');
    const created = await admin('POST', '/credentials', { body: { provider_name: 'openai', name: 'Our OpenAI key', auth_data: { api_key: key }, is_default: true } });
    assert.equal(created.status, 201, created.text);
    const c = created.body;
    assert.match(c.id, /^cred_[0-9a-f]{20}$/);
    assert.deepEqual(
      { name: c.name, provider_name: c.provider_name, org_id: c.org_id, auth_type: c.auth_type, billing: c.billing, is_default: c.is_default, base_url: c.base_url },
      { name: 'Our OpenAI key', provider_name: 'openai', org_id: 'acme', auth_type: 'api_key', billing: 'byok', is_default: true, base_url: null },
    );
    assert.match(c.fingerprint, /^sha256:[0-9a-f]{12}$/);
    for (const answer of [created, await admin('GET', '/credentials'), await admin('GET', `/credentials/${c.id}`)]) {
      for (const e of encodings(key)) assert.ok(!answer.text.includes(e), 'no key in an answer');
    }
    const file = readFileSync(join(storeDir, 'credentials.enc'), 'utf8');
    for (const e of encodings(key)) assert.ok(!file.includes(e), 'no key bytes in the store file');

    assert.equal((await chat(CALLER_KEYS.member, 'acme asks')).headers.authorization, `Bearer ${key}`);
    assert.equal((await chat(CALLER_KEYS.otherOrg, 'globex asks')).headers.authorization, `Bearer ${providerKey('openai')}`);
    const usage = await gw.usage();
    const acme = usage.find((u) => u.org === 'acme' && u.credential === c.id);
    assert.ok(acme, 'the charge names the org credential');
    assert.equal(acme.billing, 'byok');
    assert.equal(Number(acme.credits), 0);
    assert.equal(usage.find((u) => u.org === 'globex')?.billing, 'managed');
    assert.deepEqual((await admin('GET', '/credentials', { key: CALLER_KEYS.owner })).body.credentials.map((x: any) => x.id), [c.id]);
  });

  test('a new default unsets the previous one; a non-default credential changes nothing', async () => {
    const [first] = (await admin('GET', '/credentials')).body.credentials;
    const key = orgKey('second');
    const second = (await admin('POST', '/credentials', { body: { integration_name: 'openai', name: 'Second', auth_data: { api_key: key }, is_default: true } })).body;
    assert.equal((await admin('GET', `/credentials/${first.id}`)).body.is_default, false);
    assert.equal(second.is_default, true);
    assert.equal((await chat(CALLER_KEYS.member, 'after the second default')).headers.authorization, `Bearer ${key}`);
    const spare = await admin('POST', '/credentials', { body: { provider_name: 'openai', name: 'Spare', auth_data: { api_key: orgKey('spare') } } });
    assert.equal(spare.body.is_default, false);
    assert.equal((await chat(CALLER_KEYS.member, 'after a spare')).headers.authorization, `Bearer ${key}`);
    await admin('DELETE', `/credentials/${spare.body.id}`);
  });

  test('test-temporary runs the validation call and stores nothing', async () => {
    const good = orgKey('temp-good');
    valid.add(good);
    const before = readFileSync(join(storeDir, 'credentials.enc'));
    const ok = await admin('POST', '/credentials/test-temporary', { body: { provider_name: 'openai', auth_data: { api_key: good } } });
    assert.equal(ok.status, 200);
    assert.deepEqual(ok.body, { provider_name: 'openai', is_valid: true, result: 'valid', detail: null });
    assert.equal(fake.requests.findLast((r) => r.path === '/v1/models')?.headers.authorization, `Bearer ${good}`);
    const bad = orgKey('temp-bad');
    const refused = await admin('POST', '/credentials/test-temporary', { body: { provider_name: 'openai', auth_data: { api_key: bad } } });
    assert.equal(refused.status, 200);
    assert.equal(refused.body.is_valid, false);
    assert.equal(refused.body.result, 'invalid');
    assert.match(refused.body.detail, /HTTP 401 \(invalid_api_key\)/);
    assert.ok(!refused.text.includes(bad));
    assert.deepEqual(readFileSync(join(storeDir, 'credentials.enc')), before, 'the store is unchanged');
    assert.equal((await admin('GET', '/credentials')).body.credentials.length, 2);
  });

  test('rotate verifies the new secret first: a refused one changes nothing, a good one is swapped in', async () => {
    const current = (await admin('GET', '/credentials')).body.credentials.find((c: any) => c.is_default);
    const activeKey = (await chat(CALLER_KEYS.member, 'before rotate')).headers.authorization;
    const bad = orgKey('rotate-bad');
    const refused = await admin('POST', `/credentials/${current.id}/rotate`, { body: { auth_data: { api_key: bad } } });
    assert.equal(refused.status, 400);
    assert.match(refused.body.detail, /failed verification with openai: openai answered HTTP 401 \(invalid_api_key\)/);
    assert.ok(!refused.text.includes(bad));
    assert.equal((await chat(CALLER_KEYS.member, 'after a refused rotate')).headers.authorization, activeKey);
    assert.equal((await admin('GET', `/credentials/${current.id}`)).body.fingerprint, current.fingerprint);

    const good = orgKey('rotate-good');
    valid.add(good);
    const rotated = await admin('POST', `/credentials/${current.id}/rotate`, { body: { auth_data: { api_key: good } } });
    assert.equal(rotated.status, 200, rotated.text);
    assert.equal(rotated.body.verification.is_valid, true);
    assert.notEqual(rotated.body.fingerprint, current.fingerprint);
    assert.ok(!rotated.text.includes(good));
    assert.equal((await chat(CALLER_KEYS.member, 'after rotate')).headers.authorization, `Bearer ${good}`);
    const metrics = await gw.metrics();
    assert.match(metrics, /tollbooth_credential_rotations_total\{provider="openai",credential="api",result="rejected"\} 1/);
    assert.match(metrics, /tollbooth_credential_rotations_total\{provider="openai",credential="api",result="rotated"\} 1/);
  });

  test('input checks: Bedrock IAM string, base URLs, unknown providers', async () => {
    const iam = `${TEST_AWS.accessKeyId}::${TEST_AWS.secretAccessKey}::eu-west-1`;
    const bedrock = await admin('POST', '/credentials', { body: { provider_name: 'bedrock', name: 'AWS', auth_data: { api_key: iam } } });
    assert.equal(bedrock.status, 201, bedrock.text);
    assert.equal(bedrock.body.auth_type, 'aws_iam');
    assert.equal(bedrock.body.region, 'eu-west-1');
    assert.ok(!bedrock.text.includes(TEST_AWS.secretAccessKey));
    await admin('DELETE', `/credentials/${bedrock.body.id}`);

    const refused: [string, Record<string, unknown>, RegExp][] = [
      ['a Bedrock key not in the IAM form', { provider_name: 'bedrock', auth_data: { api_key: 'just-a-key' } }, /access_key::secret::region/],
      ['plain http for a cloud provider', { provider_name: 'openai', auth_data: { api_key: 'sk-a' }, base_url: 'http://api.openai.com/v1' }, /must use https/],
      ['credentials in the URL', { provider_name: 'openai', auth_data: { api_key: 'sk-a' }, base_url: 'https://user:pw@example.com/v1' }, /must not carry credentials/],
      ['a metadata address', { provider_name: 'openai-compatible', auth_data: { api_key: 'sk-a' }, base_url: 'http://169.254.169.254/latest' }, /metadata/],
      ['Azure without its resource URL', { provider_name: 'azure', auth_data: { api_key: 'k' } }, /base_url' is required/],
      ['an unknown provider', { provider_name: 'nope', auth_data: { api_key: 'k' } }, /Unknown provider 'nope'/],
      ['no auth_data', { provider_name: 'openai' }, /auth_data/],
    ];
    for (const [label, body, detail] of refused) {
      const answer = await admin('POST', '/credentials', { body: { name: 'x', ...body } });
      assert.equal(answer.status, 400, label);
      assert.match(answer.body.detail, detail, label);
    }
    const selfHosted = await admin('POST', '/credentials', { body: { provider_name: 'openai-compatible', name: 'vLLM', auth_data: { api_key: 'sk-local' }, base_url: 'http://vllm.ml.svc:8000/v1/' } });
    assert.equal(selfHosted.status, 201, 'plain http is allowed for a self-hosted server');
    assert.equal(selfHosted.body.base_url, 'http://vllm.ml.svc:8000/v1');
    await admin('DELETE', `/credentials/${selfHosted.body.id}`);
  });

  test("another org's credentials are invisible to it: listed nowhere, 404 by id", async () => {
    const mine = (await admin('GET', '/credentials')).body.credentials[0];
    const globex = { key: GLOBEX_OWNER, org: 'globex' };
    assert.deepEqual((await admin('GET', '/credentials', globex)).body, { credentials: [] });
    assert.equal((await admin('GET', `/credentials/${mine.id}`, globex)).status, 404);
    assert.equal((await admin('DELETE', `/credentials/${mine.id}`, globex)).status, 404);
    assert.equal((await admin('POST', `/credentials/${mine.id}/rotate`, { ...globex, body: { auth_data: { api_key: 'sk-x' } } })).status, 404);
    assert.equal((await admin('GET', '/credentials/cred_00000000000000000000')).status, 404);
    assert.equal((await admin('GET', `/credentials/${mine.id}`)).status, 200, 'still there for its own org');
  });

  test('org credentials survive a config reload and a restart', async () => {
    const current = (await admin('GET', '/credentials')).body.credentials.find((c: any) => c.is_default);
    const inUse = (await chat(CALLER_KEYS.member, 'before reload')).headers.authorization;
    assert.equal((await gw.gateway.reload('test')).ok, true);
    assert.equal((await chat(CALLER_KEYS.member, 'after reload')).headers.authorization, inUse);

    await gw.close();
    gw = await start();
    assert.deepEqual((await admin('GET', `/credentials/${current.id}`)).body, current);
    assert.equal((await chat(CALLER_KEYS.member, 'after restart')).headers.authorization, inUse);
  });

  test('delete: the org falls back to the operator credential', async () => {
    for (const c of (await admin('GET', '/credentials')).body.credentials) {
      assert.equal((await admin('DELETE', `/credentials/${c.id}`)).status, 200);
      assert.equal((await admin('GET', `/credentials/${c.id}`)).status, 404);
    }
    assert.equal((await chat(CALLER_KEYS.member, 'after delete')).headers.authorization, `Bearer ${providerKey('openai')}`);
  });

  test('without a store key the API refuses to store, and says why', async () => {
    await gw.close();
    rmSync(join(storeDir, 'credentials.enc'));
    gw = await start(null);
    const answer = await admin('POST', '/credentials', { body: { provider_name: 'openai', name: 'x', auth_data: { api_key: orgKey('nowhere') } } });
    assert.equal(answer.status, 400, 'a setting left out, not a server fault');
    assert.match(answer.body.detail, /no encryption key is configured\. Set credential_store\.key in the config/);
    assert.equal((await admin('POST', '/credentials/cred_x/rotate', { body: { auth_data: { api_key: orgKey('nowhere') } } })).status, 400);
    assert.equal(existsSync(join(storeDir, 'credentials.enc')), false, 'nothing written, in plaintext or otherwise');
  });

  test('GET /integrations/llm-providers/{name}: models[] and auth_schemas[], never a secret', async () => {
    const answer = await admin('GET', '/integrations/llm-providers/openai');
    assert.equal(answer.status, 200);
    assert.ok(Array.isArray(answer.body.models) && answer.body.models.length > 0);
    assert.ok(answer.body.models.every((m: any) => m.provider === 'openai'));
    assert.deepEqual(answer.body.auth_schemas, [{ type: 'api_key', header: 'authorization', prefix: 'Bearer ' }]);
    assert.ok(!answer.text.includes(providerKey('openai')));
    const all = await admin('GET', '/integrations/llm-providers');
    for (const provider of all.body.providers) assert.ok(!all.text.includes(providerKey(provider.name)));
    assert.equal((await admin('GET', '/integrations/llm-providers/nope')).status, 404);
    assert.equal((await admin('GET', '/integrations/llm-providers/openai', { key: CALLER_KEYS.member })).status, 403);
  });
});
