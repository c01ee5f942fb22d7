/**
 * Token-bucket arithmetic for RPM/TPM limits. A bucket holds up to `capacity` (the per-minute limit)
 * and refills at capacity/60 per second. A draw needs the bucket to hold its cost (capped at the
 * capacity, so a request larger than the whole minute still passes once the bucket is full); what
 * is settled afterwards may leave the bucket in debt, which later draws wait out.
 */

export interface BucketRule {
  capacity: number;
  perSecond: number;
}

/** One rate-limit draw: `cost` taken from the bucket `key` (of `org`) under `rule`. */
export interface Draw {
  /** The org the bucket belongs to (a key's buckets belong to its org): shared keys are grouped by it. */
  org: string;
  key: string;
  cost: number;
  rule: BucketRule;
}

export interface BucketState {
  level: number;
  /** ms timestamp of `level`. */
  at: number;
}

export function perMinute(limit: number): BucketRule {
  return { capacity: limit, perSecond: limit / 60 };
}

export function levelAt(state: BucketState | undefined, rule: BucketRule, now: number): number {
  if (!state) return rule.capacity;
  return Math.min(rule.capacity, state.level + (Math.max(0, now - state.at) / 1000) * rule.perSecond);
}

/** Milliseconds until a bucket at `level` can pay `cost` (0: now). */
export function waitMs(level: number, cost: number, rule: BucketRule): number {
  const need = Math.min(cost, rule.capacity);
  return level >= need ? 0 : ((need - level) / rule.perSecond) * 1000;
}

/** How long until a refilled bucket is full again: how long its state matters. */
export function msUntilFull(level: number, rule: BucketRule): number {
  return level >= rule.capacity ? 0 : ((rule.capacity - level) / rule.perSecond) * 1000;
}
