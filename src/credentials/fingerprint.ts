/**
 * A short, stable name for a secret that reveals nothing usable about it: a prefix of its SHA-256.
 * Logs and the admin API show this to tell keys apart (which one is active, which was rejected).
 */
import { createHash } from 'node:crypto';
import type { Secret } from './secret.ts';

export function fingerprint(secret: Secret | null): string | null {
  if (secret === null) return null;
  return `sha256:${createHash('sha256').update(secret.reveal()).digest('hex').slice(0, 12)}`;
}
