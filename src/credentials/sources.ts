/** Secret sources: environment variables and mounted files. A secret is read, never written. */
import { readFileSync } from 'node:fs';
import type { SecretRef } from '../config/types.ts';
import { Secret } from './secret.ts';

export type SecretReading = { ok: true; secret: Secret } | { ok: false; reason: string };

export function describeRef(ref: SecretRef): string {
  return 'env' in ref ? `env ${ref.env}` : `file ${ref.file}`;
}

export function readSecret(ref: SecretRef, env: NodeJS.ProcessEnv = process.env): SecretReading {
  if ('env' in ref) {
    const value = env[ref.env]?.trim();
    return value ? { ok: true, secret: new Secret(value) } : { ok: false, reason: `environment variable ${ref.env} is not set` };
  }
  try {
    const value = readFileSync(ref.file, 'utf8').trim();
    return value ? { ok: true, secret: new Secret(value) } : { ok: false, reason: `file ${ref.file} is empty` };
  } catch (err) {
    return { ok: false, reason: `file ${ref.file} cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'})` };
  }
}
