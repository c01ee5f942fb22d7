/**
 * Where a secret comes from, behind one interface: an environment variable (fixed for the life of
 * the process), a mounted file (a Kubernetes Secret: watched, rotated live), or the credential API's
 * encrypted store (changed only by API calls). A secret is read here, never written.
 */
import { readFileSync } from 'node:fs';
import type { SecretRef } from '../config/types.ts';
import { fileSignature } from '../config/watch.ts';
import { Secret } from './secret.ts';

export type SecretReading = { ok: true; secret: Secret } | { ok: false; reason: string };

export interface SecretSource {
  readonly kind: 'env' | 'file' | 'api';
  /** For logs and the admin API: where the value comes from, never the value. */
  readonly description: string;
  /** How the value may change while the process runs. */
  readonly changes: 'on-restart' | 'watched' | 'by-api';
  read(): SecretReading;
}

export function describeRef(ref: SecretRef): string {
  return 'env' in ref ? `env ${ref.env}` : `file ${ref.file}`;
}

export function sourceFor(ref: SecretRef, env: NodeJS.ProcessEnv = process.env): SecretSource {
  return 'env' in ref ? envSource(ref.env, env) : fileSource(ref.file);
}

/** Environment variables are read once: changing one needs a restart (a new pod). */
export function envSource(name: string, env: NodeJS.ProcessEnv = process.env): SecretSource {
  return {
    kind: 'env',
    description: `env ${name}`,
    changes: 'on-restart',
    read() {
      const value = env[name]?.trim();
      return value ? { ok: true, secret: new Secret(value) } : { ok: false, reason: `environment variable ${name} is not set` };
    },
  };
}

export interface FileSecretSource extends SecretSource {
  readonly kind: 'file';
  readonly path: string;
  /** Changes whenever the file's content may have (see config/watch.ts); null when missing. */
  signature(): string | null;
}

export function fileSource(path: string): FileSecretSource {
  return {
    kind: 'file',
    path,
    description: `file ${path}`,
    changes: 'watched',
    read() {
      try {
        const value = readFileSync(path, 'utf8').trim();
        return value ? { ok: true, secret: new Secret(value) } : { ok: false, reason: `file ${path} is empty` };
      } catch (err) {
        return { ok: false, reason: `file ${path} cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'})` };
      }
    },
    signature: () => fileSignature(path),
  };
}

/** A secret held by the credential API's encrypted store. */
export function apiSource(secret: Secret): SecretSource {
  return { kind: 'api', description: 'api', changes: 'by-api', read: () => ({ ok: true, secret }) };
}
