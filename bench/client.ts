/**
 * A small sequential client on undici: one probe request (is the answer right?) and the time to
 * the first streamed body byte over N sequential requests on one keep-alive connection.
 */
import { Client } from 'undici';
import type { HttpRequest } from './cases.ts';

export interface Answer {
  status: number;
  body: string;
}

export interface FirstChunkResult {
  samples: number;
  /** Median time from sending the request to the first body byte. */
  p50Us: number;
  /** Median time to the end of the body. */
  p50TotalUs: number;
}

const TIMEOUTS = { headersTimeout: 10_000, bodyTimeout: 10_000, connectTimeout: 5_000 };

export async function probe(origin: string, request: HttpRequest): Promise<Answer> {
  const client = new Client(origin, TIMEOUTS);
  try {
    const { statusCode, body } = await client.request({ ...request });
    return { status: statusCode, body: await body.text() };
  } finally {
    await client.close();
  }
}

/**
 * Times the first body byte for several targets, one request to each in turn (round-robin on one
 * keep-alive connection per target), so a burst of background load on this shared machine hits
 * every target alike instead of whichever was being timed.
 */
export async function firstChunkTimes<K>(
  targets: { key: K; origin: string; request: HttpRequest }[],
  samples: number,
  warmup: number,
  signal: AbortSignal,
): Promise<Map<K, FirstChunkResult>> {
  const runs = targets.map((t) => ({ ...t, client: new Client(t.origin, { ...TIMEOUTS, pipelining: 1 }), first: [] as number[], total: [] as number[] }));
  try {
    for (let i = 0; i < warmup + samples && !signal.aborted; i++) {
      for (const run of runs) {
        const started = performance.now();
        const { statusCode, body } = await run.client.request({ ...run.request, signal });
        let firstAt = -1;
        for await (const _chunk of body) if (firstAt < 0) firstAt = performance.now();
        const endedAt = performance.now();
        if (statusCode !== 200) throw new Error(`${run.origin}: status ${statusCode}`);
        if (i < warmup) continue;
        run.first.push((firstAt - started) * 1000);
        run.total.push((endedAt - started) * 1000);
      }
    }
  } finally {
    await Promise.all(runs.map((r) => r.client.close()));
  }
  return new Map(runs.map((r) => [r.key, { samples: r.first.length, p50Us: median(r.first), p50TotalUs: median(r.total) }]));
}

export function median(values: number[]): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}
