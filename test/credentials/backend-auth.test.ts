/**
 * Backend auth is built once per credential snapshot, not per request and not through a registry:
 * the same snapshot keeps its injector (API-key header, SigV4 signer); a rotation is a new snapshot
 * with a new injector, so a request that started with the old key finishes with it.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { applyCredential, backendAuthFor } from '../../src/credentials/backend-auth.ts';
import { Secret } from '../../src/credentials/secret.ts';
import type { Credential } from '../../src/credentials/store.ts';
import type { Target } from '../../src/routing/target.ts';
import type { OutboundRequest } from '../../src/upstream/transport.ts';
import { loadTestCatalog } from '../support/catalog.ts';
import { TEST_AWS_CREDENTIAL_STRING } from '../providers/bedrock/bedrock-upstream.ts';

const catalog = loadTestCatalog();

function targetOf(provider: string, secret: string): Target {
  const credential: Credential = Object.freeze({
    id: `${provider}-test`,
    provider,
    billing: 'managed',
    secret: new Secret(secret),
    unavailable: null,
    baseUrl: null,
    region: 'us-east-1',
    apiVersion: null,
    source: 'test',
    org: null,
    isDefault: true,
  });
  return { provider: catalog.provider(provider)!, credential, model: null, upstreamModel: 'm', baseUrl: 'https://example.invalid/v1' } as unknown as Target;
}

const request = (): OutboundRequest => ({ method: 'POST', url: 'https://bedrock-runtime.us-east-1.amazonaws.com/model/m/converse', headers: { 'content-type': 'application/json' }, body: '{}' });

test('one injector per credential snapshot; a rotated snapshot gets its own', async () => {
  const before = targetOf('openai', 'sk-old');
  assert.equal(backendAuthFor(before), backendAuthFor({ ...before }), 'the same snapshot: built once');
  const rotated = { ...before, credential: Object.freeze({ ...before.credential, secret: new Secret('sk-new') }) };
  assert.notEqual(backendAuthFor(rotated), backendAuthFor(before));

  const inFlight = request();
  await applyCredential(before, inFlight);
  const next = request();
  await applyCredential(rotated, next);
  assert.equal(inFlight.headers.authorization, 'Bearer sk-old', 'a request under the old snapshot keeps the old key');
  assert.equal(next.headers.authorization, 'Bearer sk-new');
});

test('SigV4 needs no registration: a Bedrock snapshot signs, every time with the same signer', async () => {
  const bedrock = targetOf('bedrock', TEST_AWS_CREDENTIAL_STRING);
  const auth = backendAuthFor(bedrock);
  const first = request();
  const second = request();
  await auth.apply(first);
  await auth.apply(second);
  for (const req of [first, second]) assert.match(String(req.headers.authorization), /^AWS4-HMAC-SHA256 Credential=.*\/bedrock\/aws4_request/);
  assert.equal(backendAuthFor(bedrock), auth);
});
