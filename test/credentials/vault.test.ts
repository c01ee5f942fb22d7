/**
 * The credential API's store at rest: AES-256-GCM per record, a fresh IV each time, the record's
 * identity bound in, atomic writes, and never a key byte in the file.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { ConfigError } from '../../src/config/problems.ts';
import { fingerprint } from '../../src/credentials/fingerprint.ts';
import { Secret } from '../../src/credentials/secret.ts';
import { CredentialVault, type StoredCredential } from '../../src/credentials/vault.ts';

const dir = mkdtempSync(join(tmpdir(), 'tollbooth-vault-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const STORE_KEY = randomBytes(32).toString('base64');
const API_KEY = `sk-proj-${randomBytes(24).toString('hex')}`;
const AWS_KEY = `AKIA${'VAULTTESTVAULTTE'}::${randomBytes(20).toString('base64url')}::eu-west-1`;

/** `key: null` leaves the environment variable the config names unset. */
function vault(path: string, key: string | null = STORE_KEY): CredentialVault {
  return new CredentialVault({ path, key: { env: 'TB_STORE_KEY' } }, key === null ? {} : { TB_STORE_KEY: key });
}

function record(v: CredentialVault, id: string, org: string, provider: string, secret: string): StoredCredential {
  const now = new Date().toISOString();
  return {
    id,
    org,
    provider,
    name: id,
    auth_type: provider === 'bedrock' ? 'aws_iam' : 'api_key',
    base_url: null,
    region: null,
    api_version: null,
    is_default: true,
    fingerprint: fingerprint(new Secret(secret))!,
    created_at: now,
    updated_at: now,
    sealed: v.seal({ id, org, provider }, new Secret(secret)),
  };
}

/** Every way a secret's bytes could show up in a file: as is, base64, base64url, hex, JSON-escaped. */
function encodings(secret: string): string[] {
  const bytes = Buffer.from(secret, 'utf8');
  return [secret, bytes.toString('base64'), bytes.toString('base64url'), bytes.toString('hex'), JSON.stringify(secret).slice(1, -1)];
}

describe('credential vault', () => {
  const path = join(dir, 'store', 'credentials.enc');

  test('round-trips secrets, and the file holds none of their bytes (nor the store key)', async () => {
    const v = vault(path);
    assert.equal(v.unavailable, null);
    await v.save([record(v, 'cred_a', 'acme', 'openai', API_KEY), record(v, 'cred_b', 'acme', 'bedrock', AWS_KEY)]);
    const text = readFileSync(path, 'utf8');
    for (const secret of [API_KEY, AWS_KEY, ...AWS_KEY.split('::').slice(0, 2)]) {
      for (const encoded of encodings(secret)) assert.ok(!text.includes(encoded), `the file must not contain ${encoded.slice(0, 6)}…`);
    }
    assert.ok(!text.includes(STORE_KEY) && !text.includes(Buffer.from(STORE_KEY, 'base64').toString('hex')));
    const loaded = vault(path).load();
    assert.deepEqual(
      loaded.map((l) => [l.record.id, l.secret.reveal()]),
      [['cred_a', API_KEY], ['cred_b', AWS_KEY]],
    );
    assert.equal(statSync(path).mode & 0o777, 0o600);
    assert.deepEqual(readdirSync(join(dir, 'store')), ['credentials.enc'], 'no temp file left behind');
  });

  test('each seal uses a fresh 12-byte IV and a 16-byte tag', () => {
    const v = vault(path);
    const a = v.seal({ id: 'x', org: 'acme', provider: 'openai' }, new Secret(API_KEY));
    const b = v.seal({ id: 'x', org: 'acme', provider: 'openai' }, new Secret(API_KEY));
    assert.notEqual(a.iv, b.iv);
    assert.notEqual(a.ciphertext, b.ciphertext);
    assert.equal(Buffer.from(a.iv, 'base64').length, 12);
    assert.equal(Buffer.from(a.tag, 'base64').length, 16);
  });

  test('a sealed secret moved to another record, or altered, does not open', () => {
    const v = vault(path);
    const sealed = v.seal({ id: 'cred_a', org: 'acme', provider: 'openai' }, new Secret(API_KEY));
    assert.throws(() => v.unseal({ id: 'cred_a', org: 'globex', provider: 'openai' }, sealed));
    const flipped = Buffer.from(sealed.ciphertext, 'base64');
    flipped[0] = flipped[0]! ^ 1;
    assert.throws(() => v.unseal({ id: 'cred_a', org: 'acme', provider: 'openai' }, { ...sealed, ciphertext: flipped.toString('base64') }));
  });

  test('an existing store that cannot be opened stops the start, naming the records (never their secrets)', async () => {
    const other = randomBytes(32).toString('base64');
    assert.throws(() => vault(path, other).load(), (err: unknown) => {
      assert.ok(err instanceof ConfigError);
      assert.match(err.message, /cred_a, cred_b/);
      assert.match(err.message, /not the one they were sealed with, or the file was altered/);
      assert.ok(!err.message.includes(API_KEY));
      return true;
    });
    assert.throws(() => vault(path, null).load(), /exists but cannot be opened: the encryption key cannot be read/);
  });

  test('without a usable key nothing can be stored, and it says why', async () => {
    const none = new CredentialVault({ path: join(dir, 'none.enc'), key: null });
    assert.match(none.unavailable ?? '', /no encryption key is configured/);
    assert.throws(() => none.save([]), /credential store unavailable/);
    const short = vault(join(dir, 'short.enc'), randomBytes(16).toString('base64'));
    assert.match(short.unavailable ?? '', /not 32 bytes in base64/);
    const keyFile = join(dir, 'key');
    writeFileSync(keyFile, `${randomBytes(32).toString('base64url')}\n`);
    assert.equal(new CredentialVault({ path: join(dir, 'url.enc'), key: { file: keyFile } }).unavailable, null, 'a base64url key in a mounted file works');
  });

  test('concurrent saves land one after another; the last one wins whole', async () => {
    const v = vault(join(dir, 'concurrent.enc'));
    const writes = Array.from({ length: 20 }, (_, i) => v.save([record(v, `cred_${i}`, 'acme', 'openai', `${API_KEY}-${i}`)]));
    await Promise.all(writes);
    assert.deepEqual(v.load().map((l) => l.record.id), ['cred_19']);
  });
});
