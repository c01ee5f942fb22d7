/**
 * Credential verification (verify.ts) and the request's credential (backend-auth.ts) for workload
 * identity credentials, in process: the identity's provider is injected (the SDK's own chain is
 * exercised end to end by the aws/azure tests), so what is checked here is that the validation call
 * carries the identity's current keys or token, and that an identity failure is a clean, secret-free
 * 503 / "unreachable".
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { AwsWorkloadIdentityConfig, AzureWorkloadIdentityConfig } from '../../../src/config/types.ts';
import { applyCredential } from '../../../src/credentials/backend-auth.ts';
import { awsWorkloadIdentity, type AwsKeys } from '../../../src/credentials/identity/aws.ts';
import { azureWorkloadIdentity } from '../../../src/credentials/identity/azure.ts';
import type { WorkloadIdentity } from '../../../src/credentials/identity/workload-identity.ts';
import type { Credential } from '../../../src/credentials/store.ts';
import { verifyCredential, type Send } from '../../../src/credentials/verify.ts';
import { isGatewayError } from '../../../src/errors/catalog.ts';
import type { OutboundRequest } from '../../../src/upstream/transport.ts';
import { loadTestCatalog } from '../../support/catalog.ts';
import type { SeenRequest } from '../../support/fake-upstream.ts';
import { verifySigV4 } from '../../providers/bedrock/bedrock-upstream.ts';

const catalog = loadTestCatalog();
const AWS_CONFIG: AwsWorkloadIdentityConfig = { kind: 'aws_workload_identity', role_arn: null, session_name: null };
const AZURE_CONFIG: AzureWorkloadIdentityConfig = { kind: 'azure_workload_identity', client_id: null, tenant_id: null, scope: 'https://cognitiveservices.azure.com/.default', disable_instance_discovery: false };
/** A web identity token as an SDK error might quote it: JWT-shaped. */
const LEAKY_JWT = 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzeXN0ZW06c2VydmljZWFjY291bnQ6YXBwIn0.c2lnbmF0dXJl';

function credential(provider: string, identity: WorkloadIdentity, extra: Partial<Credential> = {}): Credential {
  return { id: `${provider}-wi`, provider, billing: 'managed', secret: null, unavailable: null, baseUrl: null, region: null, apiVersion: null, source: identity.description, identity, ...extra };
}

/** Keys generation n, living 4 s on the test clock. */
function keys(n: number, now: number): AwsKeys {
  return { accessKeyId: `ASIATESTGENERATION${n}A`.slice(0, 20), secretAccessKey: `secret-${n}-not-a-real-key`, sessionToken: `session-token-${n}`, expiration: new Date(now + 4000) };
}

function answering(status: number, seen: OutboundRequest[]): Send {
  return async (req) => {
    seen.push(req);
    const body = Buffer.from(status === 200 ? '{"modelSummaries":[],"data":[]}' : '{"message":"denied"}');
    return { statusCode: status, headers: { 'content-type': 'application/json' }, body: { bytes: async () => body, forEachChunk: async () => 'end', destroy() {} } };
  };
}

function asSeen(req: OutboundRequest): SeenRequest {
  const url = new URL(req.url);
  const headers = Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k.toLowerCase(), v]));
  return { method: req.method, url: url.pathname + url.search, path: url.pathname, headers, body: Buffer.alloc(0), json: () => null };
}

describe('verifying an aws_workload_identity credential', () => {
  const bedrock = catalog.provider('bedrock')!;

  test('the validation call is signed with the identity’s current keys, and with the next ones after they rotate', async () => {
    const clock = { now: Date.parse('2026-01-01T00:00:00Z') };
    let n = 0;
    const identity = awsWorkloadIdentity('bedrock-wi', AWS_CONFIG, 'eu-west-3', { provider: async () => keys(++n, clock.now), clock: () => clock.now });
    const c = credential('bedrock', { ...identity, configKey: 'k' }, { region: 'eu-west-3' });
    const seen: OutboundRequest[] = [];
    for (const generation of [1, 2]) {
      const verdict = await verifyCredential(bedrock, c, answering(200, seen));
      assert.equal(verdict.result, 'valid');
      const req = seen.at(-1)!;
      assert.equal(new URL(req.url).host, 'bedrock.eu-west-3.amazonaws.com', 'the region is the credential’s');
      const k = keys(generation, 0);
      assert.equal(req.headers['x-amz-security-token'], k.sessionToken);
      assert.deepEqual(await verifySigV4(asSeen(req), { accessKeyId: k.accessKeyId, secretAccessKey: k.secretAccessKey, region: 'eu-west-3' }), { ok: true });
      clock.now += 3700; // the first keys are as good as expired
    }
  });

  test('a 403 from Bedrock is invalid; an identity that gives no keys is unreachable, its reason free of secrets', async () => {
    const ok = awsWorkloadIdentity('bedrock-wi', AWS_CONFIG, 'us-east-1', { provider: async () => keys(1, Date.now()) });
    assert.equal((await verifyCredential(bedrock, credential('bedrock', { ...ok, configKey: 'k' }, { region: 'us-east-1' }), answering(403, []))).result, 'invalid');

    const failing = awsWorkloadIdentity('bedrock-wi', AWS_CONFIG, 'us-east-1', {
      provider: async () => {
        throw Object.assign(new Error(`InvalidIdentityToken: token ${LEAKY_JWT} is not valid\nstack line`), { name: 'InvalidIdentityTokenException' });
      },
    });
    const c = credential('bedrock', { ...failing, configKey: 'k' }, { region: 'us-east-1' });
    const verdict = await verifyCredential(bedrock, c, answering(200, []));
    assert.equal(verdict.result, 'unreachable');
    assert.ok(verdict.result === 'unreachable' && verdict.reason.includes("Credential 'bedrock-wi'") && verdict.reason.includes('InvalidIdentityTokenException'));
    assert.ok(!JSON.stringify(verdict).includes(LEAKY_JWT), 'the token the SDK quoted is redacted');
  });
});

describe('verifying and using an azure_workload_identity credential', () => {
  const azure = catalog.provider('azure')!;
  const base = { baseUrl: 'https://example-resource.openai.azure.com/openai', apiVersion: '2024-10-21' };

  test('the validation call and requests carry the current Entra token as Bearer, never an api-key', async () => {
    const clock = { now: 0 };
    let n = 0;
    const identity = azureWorkloadIdentity('azure-wi', AZURE_CONFIG, {}, {
      source: { getToken: async (scope) => (assert.equal(scope, AZURE_CONFIG.scope), { token: `entra-token-${++n}`, expiresOnTimestamp: clock.now + 4000 }) },
      clock: () => clock.now,
    });
    const c = credential('azure', { ...identity, configKey: 'k' }, base);
    const seen: OutboundRequest[] = [];
    assert.equal((await verifyCredential(azure, c, answering(200, seen))).result, 'valid');
    assert.equal(seen[0]!.headers.authorization, 'Bearer entra-token-1');
    assert.equal(seen[0]!.url, `${base.baseUrl}/models?api-version=2024-10-21`);

    clock.now = 3700;
    const req: OutboundRequest = { method: 'POST', url: `${base.baseUrl}/deployments/d/chat/completions`, headers: { 'api-key': 'caller-tollbooth-key', Authorization: 'Bearer caller' }, body: '{}' };
    const target = { provider: azure, model: null, upstreamModel: 'd', credential: c, baseUrl: base.baseUrl, weight: 1 };
    await applyCredential(target, req);
    assert.deepEqual(req.headers, { authorization: 'Bearer entra-token-2' });
  });

  test('Entra refusing is a 503 naming the credential and the AADSTS reason, not the assertion', async () => {
    const identity = azureWorkloadIdentity('azure-wi', AZURE_CONFIG, {}, {
      source: {
        getToken: async () => {
          throw Object.assign(new Error(`AADSTS700213: No matching federated identity record found for presented assertion ${LEAKY_JWT}.`), { name: 'AuthenticationError' });
        },
      },
    });
    const c = credential('azure', { ...identity, configKey: 'k' }, base);
    const target = { provider: azure, model: null, upstreamModel: 'd', credential: c, baseUrl: base.baseUrl, weight: 1 };
    await assert.rejects(applyCredential(target, { method: 'POST', url: `${base.baseUrl}/x`, headers: {}, body: '{}' }), (err) => {
      assert.ok(isGatewayError(err) && err.code === 'credential_unavailable');
      assert.match(err.message, /Credential 'azure-wi': Microsoft Entra|the Azure managed identity/);
      assert.match(err.message, /AADSTS700213/);
      assert.ok(!err.message.includes(LEAKY_JWT));
      return true;
    });
  });

  test('an identity prints where its keys come from, never a key', async () => {
    const identity = azureWorkloadIdentity('azure-wi', AZURE_CONFIG, {}, { source: { getToken: async () => ({ token: 'entra-secret-token', expiresOnTimestamp: Date.now() + 3600_000 }) } });
    await identity.token();
    const c = credential('azure', { ...identity, configKey: 'k' }, base);
    assert.ok(!JSON.stringify(c).includes('entra-secret-token'));
    const { inspect } = await import('node:util');
    assert.ok(!inspect(c, { depth: 10 }).includes('entra-secret-token'));
  });
});
