/**
 * Azure OpenAI with Microsoft Entra workload identity, end to end: a real sidecar in a child process
 * (NODE_EXTRA_CA_CERTS, read at start-up, trusts the fake Entra's self-signed certificate:
 * @azure/identity only talks to an https authority) exchanges the service account token file for
 * Entra tokens, and the official openai SDK calls the unified API. The fake Azure answers only a
 * request that carries a current token as `Authorization: Bearer` (and no api-key); tokens live
 * seconds, so they rotate under load, with no failed request.
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import OpenAI from 'openai';
import { startChildGateway, type ChildGateway } from '../../support/child-gateway.ts';
import { FakeEntra } from '../../support/fake-entra.ts';
import { FakeUpstream, type Reply, type SeenRequest } from '../../support/fake-upstream.ts';
import { chunkLines, sseFrames } from '../../support/fixtures.ts';
import { CALLER_KEYS, ledgerCharges, writeTestConfig } from '../../support/gateway.ts';
import { loadTestCatalog } from '../../support/catalog.ts';
import { collectStdout, isolatedCloudEnv, underLoad } from './support.ts';

const MODEL = 'azure/gpt-5.1';
const API_VERSION = '2024-10-21';
const ROUTER = 'azure/azure-model-router.1.chunks.txt';
const TENANT = '72f988bf-0000-4000-8000-000000000001';
const CLIENT = '0e6c4d1a-0000-4000-8000-000000000002';
const SCOPE = 'https://cognitiveservices.azure.com/.default';
const SA_TOKEN = 'k8s-projected-azure-identity-token';

describe('Azure OpenAI with Entra workload identity (federated token file → Entra token → Bearer)', () => {
  let upstream: FakeUpstream;
  let entra: FakeEntra;
  let gateway: ChildGateway;
  let dir: string;
  let logs: () => string;
  let client: OpenAI;
  const seenTokens: string[] = [];
  const expectedText = chunkLines(ROUTER)
    .map((l) => JSON.parse(l).choices[0]?.delta?.content ?? '')
    .join('');

  /** The fake Azure: the recorded stream for a current Entra token, else Azure's 401. */
  function azureWithEntra(req: SeenRequest): Reply {
    const token = /^Bearer (.+)$/.exec(String(req.headers.authorization ?? ''))?.[1];
    const issued = token === undefined ? undefined : entra.token(token);
    const problem = !issued
      ? 'no Entra token this tenant issued'
      : req.headers['api-key'] !== undefined
        ? 'an api-key beside the token'
        : !entra.isCurrent(issued, Date.now())
          ? `a stale token (generation ${issued.generation} of ${entra.issued.length})`
          : null;
    if (problem !== null) return { status: 401, json: { error: { code: '401', message: `fake Azure refused: ${problem}` } } };
    seenTokens.push(token!);
    return { frames: sseFrames(chunkLines(ROUTER), { done: true }) };
  }

  before(async () => {
    upstream = await FakeUpstream.start();
    const written = writeTestConfig({
      upstream,
      credentials: {
        azure: {
          secret: null,
          identity: { kind: 'azure_workload_identity', disable_instance_discovery: true },
          base_url: `${upstream.url}/openai`,
          api_version: API_VERSION,
        },
      },
      config: { log: { level: 'debug' } },
    });
    dir = written.dir;
    const tokenFile = join(dir, 'azure-identity-token');
    writeFileSync(tokenFile, SA_TOKEN);
    entra = await FakeEntra.start({ tenantId: TENANT, clientId: CLIENT, assertion: () => readFileSync(tokenFile, 'utf8'), scope: SCOPE, lifetimeSeconds: 3 });
    const deployment = loadTestCatalog().resolve(MODEL).model.upstream_model;
    upstream.on('POST', `/openai/deployments/${deployment}/chat/completions`, azureWithEntra);
    gateway = await startChildGateway(written.file, {
      ...written.env,
      ...isolatedCloudEnv(dir),
      AZURE_FEDERATED_TOKEN_FILE: tokenFile,
      AZURE_CLIENT_ID: CLIENT,
      AZURE_TENANT_ID: TENANT,
      AZURE_AUTHORITY_HOST: entra.url,
      NODE_EXTRA_CA_CERTS: entra.caFile,
    });
    logs = collectStdout(gateway);
    client = new OpenAI({ apiKey: CALLER_KEYS.member, baseURL: `${gateway.proxyUrl}/v1`, maxRetries: 0 });
  });
  after(async () => {
    await gateway?.stop();
    await entra?.close();
    await upstream?.close();
  });

  async function chat(): Promise<string> {
    const stream = await client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'Capital of Denmark?' }], stream: true });
    let text = '';
    for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? '';
    return text;
  }

  test('a streamed chat reaches Azure with the Entra token for the pod’s federated token, not an api-key', async () => {
    assert.equal(await chat(), expectedText);
    assert.deepEqual(entra.refusals, []);
    assert.equal(entra.issued.length, 1, 'one token, cached');
    assert.equal(seenTokens.at(-1), entra.issued[0]!.token);
    assert.equal(upstream.last().headers['api-key'], undefined);
    assert.ok(!JSON.stringify(upstream.last().headers).includes(CALLER_KEYS.member));
  });

  test('tokens that expire every few seconds rotate under load: 0 failed requests, every token current', { timeout: 120_000 }, async () => {
    const before = new Set(seenTokens).size;
    const result = await underLoad(
      4,
      async () => assert.equal(await chat(), expectedText),
      () => new Set(seenTokens).size >= before + 3,
    );
    assert.deepEqual(result.failures, []);
    assert.deepEqual(entra.refusals, [], 'Entra only saw the pod’s federated token');
    assert.ok(entra.issued.length >= 4);
  });

  test('no Entra token or federated token appears in logs, metrics or the ledger', async () => {
    const secrets = [SA_TOKEN, ...entra.issued.map((t) => t.token)];
    const metrics = await (await fetch(`${gateway.opsUrl}/metrics`)).text();
    const ledger = JSON.stringify(ledgerCharges(join(dir, 'data')));
    assert.ok(ledger.length > 2, 'the calls were charged');
    for (const [what, text] of [['the log', logs() + gateway.stderr()], ['/metrics', metrics], ['the ledger', ledger]] as const) {
      for (const secret of secrets) assert.ok(!text.includes(secret), `${what} carries a token (${secret.slice(0, 20)}…)`);
    }
  });
});
