/**
 * Rolling health per deployment (provider, model, region, credential), fed by every request: a time-bucketed
 * window of outcomes and a bounded ring of recent latencies. Memory is bounded: a fixed number of
 * buckets and samples per window (and RoutingHealth caps the number of windows).
 */

export type OutcomeClass = '2xx' | '4xx' | '5xx';

export interface Observation {
  /** Status class the seed's success rate counts (2xx vs 4xx/5xx); transport failures count as 5xx. */
  statusClass: OutcomeClass;
  /** The provider was at fault (5xx, 429, timeout, connection error): what breakers count. */
  providerFault: boolean;
  latencyMs: number;
  ttfbMs: number | null;
}

const BUCKETS = 12;
const SAMPLES = 128;

interface Bucket {
  start: number;
  ok: number;
  clientError: number;
  serverError: number;
  faults: number;
}

export class HealthWindow {
  readonly #bucketMs: number;
  readonly #buckets: Bucket[] = [];
  readonly #latencies = new Float64Array(SAMPLES);
  readonly #ttfbs = new Float64Array(SAMPLES);
  #samples = 0;
  #ttfbSamples = 0;
  lastCheck = 0;

  constructor(windowMs: number) {
    this.#bucketMs = Math.max(1, Math.ceil(windowMs / BUCKETS));
  }

  observe(o: Observation, now = Date.now()): void {
    const b = this.#bucket(now);
    if (o.statusClass === '2xx') b.ok++;
    else if (o.statusClass === '4xx') b.clientError++;
    else b.serverError++;
    if (o.providerFault) b.faults++;
    this.#latencies[this.#samples++ % SAMPLES] = o.latencyMs;
    if (o.ttfbMs !== null) this.#ttfbs[this.#ttfbSamples++ % SAMPLES] = o.ttfbMs;
    this.lastCheck = now;
  }

  /** Counts over the window ending now. */
  counts(now = Date.now()): { total: number; ok: number; faults: number } {
    let total = 0;
    let ok = 0;
    let faults = 0;
    const oldest = now - this.#bucketMs * BUCKETS;
    for (const b of this.#buckets) {
      if (b.start <= oldest) continue;
      total += b.ok + b.clientError + b.serverError;
      ok += b.ok;
      faults += b.faults;
    }
    return { total, ok, faults };
  }

  /** The seed's success rate: 2xx over all answered requests in the window; null when there were none. */
  successRate(now = Date.now()): number | null {
    const { total, ok } = this.counts(now);
    return total === 0 ? null : ok / total;
  }

  p50LatencyMs(): number | null {
    return median(this.#latencies, this.#samples);
  }

  p50TtfbMs(): number | null {
    return median(this.#ttfbs, this.#ttfbSamples);
  }

  #bucket(now: number): Bucket {
    const start = now - (now % this.#bucketMs);
    const last = this.#buckets.at(-1);
    if (last && last.start === start) return last;
    const fresh = { start, ok: 0, clientError: 0, serverError: 0, faults: 0 };
    this.#buckets.push(fresh);
    if (this.#buckets.length > BUCKETS) this.#buckets.shift();
    return fresh;
  }
}

function median(ring: Float64Array, count: number): number | null {
  const n = Math.min(count, ring.length);
  if (n === 0) return null;
  const sorted = ring.slice(0, n).sort();
  return n % 2 === 1 ? sorted[(n - 1) / 2]! : (sorted[n / 2 - 1]! + sorted[n / 2]!) / 2;
}

export interface DeploymentKey {
  provider: string;
  model: string;
  region: string | null;
  /** The credential id: a deployment is one way to serve a model, key included (DESIGN.md). */
  credential: string;
}

export function keyOf(k: DeploymentKey): string {
  return `${k.provider}\0${k.model}\0${k.region ?? ''}\0${k.credential}`;
}
