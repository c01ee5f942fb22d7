/**
 * Passthrough taps for non-streamed bodies: keep a copy (bounded) and read usage at the end. With no
 * usage, the generated size is estimated from the body's bytes.
 */
import type { Usage } from '../metering/usage.ts';
import type { UsageTap } from './contract.ts';

const MAX_TAPPED_BYTES = 16 * 1024 * 1024;

/** Reads usage from the body's bytes, for readers that need not parse it all (usageOfBody). */
export function bytesBodyTap(read: (body: Buffer) => Usage | null): UsageTap {
  const chunks: Uint8Array[] = [];
  let size = 0;
  return {
    push(chunk) {
      size += chunk.byteLength;
      if (size <= MAX_TAPPED_BYTES) chunks.push(chunk);
    },
    finish() {
      const usage = size > MAX_TAPPED_BYTES ? null : read(Buffer.concat(chunks));
      return { usage, outcome: 'complete', generatedChars: size };
    },
  };
}

/** Reads usage from the parsed body. */
export function jsonBodyTap(read: (body: Record<string, unknown>) => Usage | null): UsageTap {
  return bytesBodyTap((bytes) => {
    try {
      const body: unknown = JSON.parse(bytes.toString('utf8'));
      return typeof body === 'object' && body !== null ? read(body as Record<string, unknown>) : null;
    } catch {
      return null;
    }
  });
}
