/**
 * The credential API's store on disk: one JSON file whose records keep their metadata in clear and
 * their secret sealed with AES-256-GCM (a fresh 12-byte IV per seal, the 16-byte tag kept, the
 * record's id, org and provider bound in as associated data so a sealed secret cannot be moved to
 * another record). The key is 32 bytes from a Secret named in the config; without it nothing is
 * stored, never in plaintext. Writes are atomic: temp file, fsync, rename, fsync of the directory.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, open, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { SecretRef } from '../config/types.ts';
import { ConfigError } from '../config/problems.ts';
import { Secret } from './secret.ts';
import { describeRef, sourceFor } from './sources.ts';

export interface SealedSecret {
  /** base64 of the 12-byte IV, the 16-byte GCM tag, and the ciphertext. */
  iv: string;
  tag: string;
  ciphertext: string;
}

/** One API credential as stored: everything but the secret is plain metadata. */
export interface StoredCredential {
  id: string;
  org: string;
  provider: string;
  name: string;
  auth_type: 'api_key' | 'aws_iam';
  base_url: string | null;
  region: string | null;
  api_version: string | null;
  is_default: boolean;
  fingerprint: string;
  created_at: string;
  updated_at: string;
  sealed: SealedSecret;
}

interface VaultFile {
  format: 'tollbooth-credentials';
  version: 1;
  cipher: 'aes-256-gcm';
  credentials: StoredCredential[];
}

export interface VaultSettings {
  path: string;
  key: SecretRef | null;
}

const KEY_BYTES = 32;
const IV_BYTES = 12;
const BASE64_32 = /^(?:[A-Za-z0-9+/]{43}=|[A-Za-z0-9_-]{43}=?)$/;

export class CredentialVault {
  readonly path: string;
  /** Why nothing can be stored (no key configured, or the key is unusable); null when the vault works. */
  readonly unavailable: string | null;
  readonly #key: Buffer | null;
  #writing: Promise<void> = Promise.resolve();

  constructor(settings: VaultSettings, env: NodeJS.ProcessEnv = process.env) {
    this.path = settings.path;
    const key = readKey(settings.key, env);
    this.#key = 'key' in key ? key.key : null;
    this.unavailable = 'key' in key ? null : key.reason;
  }

  /**
   * The stored credentials with their secrets unsealed. A file that exists but cannot be read in
   * full (no key, wrong key, altered) stops the start: serving without an org's own credentials
   * would silently bill its traffic to the operator's keys.
   */
  load(): { record: StoredCredential; secret: Secret }[] {
    if (!existsSync(this.path)) return [];
    const fail = (message: string) => new ConfigError([{ file: this.path, path: '', line: null, column: null, message }]);
    if (this.#key === null) throw fail(`the credential store exists but cannot be opened: ${this.unavailable}`);
    let file: VaultFile;
    try {
      file = JSON.parse(readFileSync(this.path, 'utf8')) as VaultFile;
    } catch (err) {
      throw fail(`the credential store is not readable JSON (${(err as Error).message})`);
    }
    if (file.format !== 'tollbooth-credentials' || file.version !== 1 || !Array.isArray(file.credentials)) {
      throw fail('the credential store has an unknown format');
    }
    const unreadable: string[] = [];
    const out = file.credentials.flatMap((record) => {
      try {
        return [{ record, secret: this.unseal(record, record.sealed) }];
      } catch {
        unreadable.push(record.id);
        return [];
      }
    });
    if (unreadable.length > 0) {
      throw fail(
        `${unreadable.length} credential(s) cannot be decrypted (${unreadable.join(', ')}): the credential_store.key is not the one they were sealed with, or the file was altered`,
      );
    }
    return out;
  }

  seal(record: Pick<StoredCredential, 'id' | 'org' | 'provider'>, secret: Secret): SealedSecret {
    const key = this.#requireKey();
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', key, iv);
    cipher.setAAD(associatedData(record));
    const ciphertext = Buffer.concat([cipher.update(secret.reveal(), 'utf8'), cipher.final()]);
    return { iv: iv.toString('base64'), tag: cipher.getAuthTag().toString('base64'), ciphertext: ciphertext.toString('base64') };
  }

  unseal(record: Pick<StoredCredential, 'id' | 'org' | 'provider'>, sealed: SealedSecret): Secret {
    const key = this.#requireKey();
    const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(sealed.iv, 'base64'));
    decipher.setAAD(associatedData(record));
    decipher.setAuthTag(Buffer.from(sealed.tag, 'base64'));
    const plain = Buffer.concat([decipher.update(Buffer.from(sealed.ciphertext, 'base64')), decipher.final()]);
    return new Secret(plain.toString('utf8'));
  }

  /** Replaces the file's content with `credentials`, atomically; writes are queued one after another. */
  save(credentials: readonly StoredCredential[]): Promise<void> {
    this.#requireKey();
    const file: VaultFile = { format: 'tollbooth-credentials', version: 1, cipher: 'aes-256-gcm', credentials: [...credentials] };
    const next = this.#writing.then(() => writeAtomically(this.path, `${JSON.stringify(file, null, 1)}\n`));
    this.#writing = next.catch(() => undefined);
    return next;
  }

  #requireKey(): Buffer {
    if (this.#key === null) throw new Error(`credential store unavailable: ${this.unavailable}`);
    return this.#key;
  }
}

function associatedData(record: Pick<StoredCredential, 'id' | 'org' | 'provider'>): Buffer {
  return Buffer.from(`tollbooth-credential-v1\0${record.id}\0${record.org}\0${record.provider}`, 'utf8');
}

function readKey(ref: SecretRef | null, env: NodeJS.ProcessEnv): { key: Buffer } | { reason: string } {
  if (ref === null) return { reason: 'no encryption key is configured (set credential_store.key to a Secret holding 32 random bytes, base64)' };
  const reading = sourceFor(ref, env).read();
  if (!reading.ok) return { reason: `the encryption key cannot be read: ${reading.reason}` };
  const text = reading.secret.reveal();
  // Node's base64 decoder reads both the standard and the URL-safe alphabet.
  const key = BASE64_32.test(text) ? Buffer.from(text, 'base64') : null;
  if (key === null || key.length !== KEY_BYTES) {
    return { reason: `the encryption key from ${describeRef(ref)} is not 32 bytes in base64 (make one with: openssl rand -base64 32)` };
  }
  return { key };
}

async function writeAtomically(path: string, text: string): Promise<void> {
  const dir = dirname(path);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const temp = join(dir, `.${basename(path)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  try {
    const handle = await open(temp, 'wx', 0o600);
    try {
      await handle.writeFile(text, 'utf8');
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, path);
  } catch (err) {
    await rm(temp, { force: true });
    throw err;
  }
  // The rename itself is durable only once the directory entry is.
  const dirHandle = await open(dir, 'r');
  try {
    await dirHandle.sync();
  } finally {
    await dirHandle.close();
  }
}
