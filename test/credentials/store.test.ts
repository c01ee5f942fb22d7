/**
 * The credential store across a reload: what carries over (the secret in use for an unchanged
 * reference, org credentials) and what is read afresh (a changed reference).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import type { CredentialConfig } from '../../src/config/types.ts';
import { Secret } from '../../src/credentials/secret.ts';
import { CredentialStore, type Credential } from '../../src/credentials/store.ts';
import { loadTestCatalog } from '../support/catalog.ts';

const catalog = loadTestCatalog();
const dir = mkdtempSync(join(tmpdir(), 'tollbooth-store-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function config(id: string, secret: CredentialConfig['secret'], fields: Partial<CredentialConfig> = {}): CredentialConfig {
  return { id, provider: 'openai', billing: 'managed', secret, identity: null, base_url: null, region: null, api_version: null, default: false, ...fields };
}

describe('CredentialStore.fromConfig with the previous store (a reload)', () => {
  const file = join(dir, 'openai-key');
  const other = join(dir, 'other-key');
  writeFileSync(file, 'key-at-start');
  writeFileSync(other, 'key-in-other-file');
  const start = CredentialStore.fromConfig([config('openai', { file }), config('groq', { env: 'GROQ_KEY' }, { provider: 'groq' })], catalog, { GROQ_KEY: 'groq-key' });
  const orgOwned: Credential = {
    id: 'cred_1', provider: 'openai', billing: 'byok', secret: new Secret('org-key'), unavailable: null,
    baseUrl: null, region: null, apiVersion: null, source: 'api', org: 'acme', isDefault: true,
  };

  test('an unchanged reference keeps the secret in use, even if the file now says something else', () => {
    const rotated = start.with({ ...start.get('openai')!, secret: new Secret('verified-rotated-key') });
    writeFileSync(file, 'unverified-new-content');
    const reloaded = CredentialStore.fromConfig([config('openai', { file }, { base_url: 'https://proxy.example/v1' })], catalog, {}, rotated);
    assert.equal(reloaded.get('openai')!.secret!.reveal(), 'verified-rotated-key');
    assert.equal(reloaded.get('openai')!.baseUrl, 'https://proxy.example/v1', 'the rest of the credential follows the new config');
  });

  test('a changed reference is read afresh', () => {
    const reloaded = CredentialStore.fromConfig([config('openai', { file: other })], catalog, {}, start);
    assert.equal(reloaded.get('openai')!.secret!.reveal(), 'key-in-other-file');
    assert.equal(reloaded.get('openai')!.source, `file ${other}`);
  });

  test('org credentials carry over; removed config credentials do not', () => {
    const withOrg = start.with(orgOwned);
    const reloaded = CredentialStore.fromConfig([config('openai', { file })], catalog, {}, withOrg);
    assert.equal(reloaded.get('cred_1')?.secret?.reveal(), 'org-key');
    assert.equal(reloaded.get('groq'), undefined);
    assert.equal(reloaded.defaultFor('openai', 'acme')?.id, 'cred_1');
  });

  test('with() and without() leave the original store as it was', () => {
    const added = start.with(orgOwned);
    const removed = added.without('cred_1');
    assert.equal(start.get('cred_1'), undefined);
    assert.equal(added.get('cred_1')?.id, 'cred_1');
    assert.equal(removed.get('cred_1'), undefined);
    assert.ok(Object.isFrozen(added.get('cred_1')));
  });
});
