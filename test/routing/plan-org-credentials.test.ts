/**
 * planTargets with the caller's org: an org's own default credential (created over the credential
 * API) serves that org's deployments that name no credential; everything else keeps the operator's.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { RouteConfig } from '../../src/config/types.ts';
import { Secret } from '../../src/credentials/secret.ts';
import { CredentialStore, type Credential } from '../../src/credentials/store.ts';
import { planTargets } from '../../src/routing/plan.ts';
import { loadTestCatalog } from '../support/catalog.ts';

const catalog = loadTestCatalog();
const model = catalog.models.get('gpt-4.1-nano')!;

function credential(id: string, fields: Partial<Credential> = {}): Credential {
  return {
    id,
    provider: 'openai',
    billing: 'managed',
    secret: new Secret(`key-of-${id}`),
    unavailable: null,
    baseUrl: null,
    region: null,
    apiVersion: null,
    source: 'test',
    org: null,
    isDefault: false,
    ...fields,
  };
}

const operator = credential('openai', { baseUrl: 'https://egress.internal/openai/v1' });
const pinned = credential('openai-pinned', { baseUrl: 'https://pinned.example/v1' });
const acmeDefault = credential('cred_acme', { org: 'acme', billing: 'byok', isDefault: true });
const acmeSpare = credential('cred_acme_spare', { org: 'acme', billing: 'byok' });
const globexOwnUrl = credential('cred_globex', { org: 'globex', billing: 'byok', isDefault: true, baseUrl: 'https://globex-proxy.example/v1' });

function table(credentials: Credential[], routes: Record<string, RouteConfig> = {}) {
  const store = new CredentialStore(credentials);
  return { catalog, credentials: store, routes };
}

describe('planning with the caller org', () => {
  test("the org's default credential serves it; other orgs and no org get the operator's", () => {
    const t = table([operator, acmeDefault, acmeSpare]);
    const [acme] = planTargets(t, model, 'acme');
    assert.equal(acme!.credential.id, 'cred_acme');
    assert.equal(acme!.credential.billing, 'byok');
    assert.equal(planTargets(t, model, 'globex')[0]!.credential.id, 'openai');
    assert.equal(planTargets(t, model)[0]!.credential.id, 'openai');
  });

  test("an org credential without a base URL goes where the operator's goes; one with its own keeps it", () => {
    const t = table([operator, acmeDefault, globexOwnUrl]);
    assert.equal(planTargets(t, model, 'acme')[0]!.baseUrl, 'https://egress.internal/openai/v1');
    assert.equal(planTargets(t, model, 'globex')[0]!.baseUrl, 'https://globex-proxy.example/v1');
    const noOperatorUrl = table([credential('openai'), acmeDefault]);
    assert.equal(planTargets(noOperatorUrl, model, 'acme')[0]!.baseUrl, 'https://api.openai.com/v1');
  });

  test('a non-default org credential is not used', () => {
    assert.equal(planTargets(table([operator, acmeSpare]), model, 'acme')[0]!.credential.id, 'openai');
  });

  test('a deployment that names its credential keeps it, whoever calls', () => {
    const routes: Record<string, RouteConfig> = {
      'gpt-4.1-nano': { strategy: 'priority', deployments: [{ provider: 'openai', credential: 'openai-pinned', upstream_model: null, weight: 1 }] },
    };
    assert.equal(planTargets(table([operator, pinned, acmeDefault], routes), model, 'acme')[0]!.credential.id, 'openai-pinned');
  });

  test("an org credential that cannot serve falls back to the operator's", () => {
    const broken = { ...acmeDefault, secret: null, unavailable: 'gone' };
    assert.equal(planTargets(table([operator, broken]), model, 'acme')[0]!.credential.id, 'openai');
  });

  test('with only an org credential, other orgs have none', () => {
    const t = table([acmeDefault]);
    assert.equal(planTargets(t, model, 'acme')[0]!.credential.id, 'cred_acme');
    assert.throws(() => planTargets(t, model, 'globex'), /no credential configured/);
  });
});
