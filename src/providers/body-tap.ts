/** Passthrough tap for non-streamed bodies: keeps a copy (bounded) and reads usage at the end. */
import type { Usage } from '../metering/usage.ts';
import type { UsageTap } from './contract.ts';

const MAX_TAPPED_BYTES = 16 * 1024 * 1024;

export function jsonBodyTap(read: (body: Record<string, unknown>) => Usage | null): UsageTap {
  const chunks: Uint8Array[] = [];
  let size = 0;
  return {
    push(chunk) {
      size += chunk.byteLength;
      if (size <= MAX_TAPPED_BYTES) chunks.push(chunk);
    },
    finish() {
      if (size > MAX_TAPPED_BYTES) return { usage: null, outcome: 'complete', generatedChars: size };
      const text = Buffer.concat(chunks).toString('utf8');
      try {
        const body: unknown = JSON.parse(text);
        const usage = typeof body === 'object' && body !== null ? read(body as Record<string, unknown>) : null;
        return { usage, outcome: 'complete', generatedChars: text.length };
      } catch {
        return { usage: null, outcome: 'complete', generatedChars: text.length };
      }
    },
  };
}
