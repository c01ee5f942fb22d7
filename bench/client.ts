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

export async function firstChunkTimes(origin: string, request: HttpRequest, samples: number, warmup: number, signal: AbortSignal): Promise<FirstChunkResult> {
  const client = new Client(origin, { ...TIMEOUTS, pipelining: 1 });
  const first: number[] = [];
  const total: number[] = [];
  try {
    for (let i = 0; i < warmup + samples && !signal.aborted; i++) {
      const started = performance.now();
      const { statusCode, body } = await client.request({ ...request, signal });
      let firstAt = -1;
      for await (const _chunk of body) if (firstAt < 0) firstAt = performance.now();
      const endedAt = performance.now();
      if (statusCode !== 200) throw new Error(`status ${statusCode}`);
      if (i < warmup) continue;
      first.push((firstAt - started) * 1000);
      total.push((endedAt - started) * 1000);
    }
  } finally {
    await client.close();
  }
  return { samples: first.length, p50Us: median(first), p50TotalUs: median(total) };
}

export function median(values: number[]): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}
