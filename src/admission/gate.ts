/**
 * The admission gate, between model resolution and the first upstream call. In order:
 *   1. plan: the model and at least one serving provider must be in the org's plan (else 403);
 *   2. rate limits: RPM and TPM per key and per org, taken all at once (else 429 + Retry-After);
 *   3. credits: the request's worst-case charge is held against what the org can spend
 *      (allowance left this period + wallet − what other requests hold), else 402.
 * BYOK-only requests hold nothing (they are still rate-limited). The returned Admission is settled
 * with the charge the Meter recorded (the hold is released and the TPM count set to the reported
 * tokens) or released when no upstream was reached.
 */
import { randomUUID } from 'node:crypto';
import type { Caller } from './caller-auth.ts';
import type { ModelRecord, Operation } from '../catalog/types.ts';
import type { TollboothConfig } from '../config/types.ts';
import { formatCredits } from '../metering/credits.ts';
import type { Hold, UsageRecord } from '../metering/record.ts';
import type { Metrics } from '../metrics/registry.ts';
import type { Target } from '../routing/target.ts';
import { MemoryBuckets } from '../state/memory-buckets.ts';
import { StateUnavailableError, type AdmitResult, type Draw, type StateStore } from '../state/store.ts';
import { DenialError, type DenialEnvelope } from './denial.ts';
import { likelyTokens, requestedMaxTokens, worstCaseCharge } from './estimate.ts';
import { planOf, type Limits, type OrgPlan } from './plans.ts';

export interface AdmissionRequest {
  caller: Caller;
  /** The config snapshot the request runs under. */
  config: TollboothConfig;
  /** The catalog model that will serve (null: a passthrough call naming a model the catalog lacks). */
  model: ModelRecord | null;
  /** What the caller named (a plan listing it admits its replacement too). */
  requestedModel: string | null;
  operation: Operation;
  /** Deployments that may serve, in fallback order. */
  targets: Target[];
  /** Size of the request body (or upload) in bytes. */
  inputBytes: number;
  /** The request body, for the caller's max_tokens (null for uploads). */
  body: unknown;
  /** Never billed (a token count): rate-limited, but no credit is held. */
  unbilled?: boolean;
}

export interface GateOptions {
  store: StateStore;
  /** How long a hold lives if its replica dies before settling it (shared store only). */
  holdTtlMs?: number;
  metrics?: Metrics;
  /** ms clock (tests move it). */
  now?: () => number;
}

interface TaggedDraw extends Draw {
  layer: 'org' | 'key';
  subject: string;
  unit: 'rpm' | 'tpm';
}

export class AdmissionGate {
  readonly #store: StateStore;
  readonly #holdTtlMs: number;
  /** Per-process limits for BYOK calls while the shared store is unreachable. */
  readonly #localBuckets = new MemoryBuckets();
  readonly #metrics: Metrics | undefined;
  readonly #now: () => number;

  constructor(options: GateOptions) {
    this.#store = options.store;
    this.#holdTtlMs = options.holdTtlMs ?? 15 * 60_000;
    this.#metrics = options.metrics;
    this.#now = options.now ?? Date.now;
  }

  get store(): StateStore {
    return this.#store;
  }

  async admit(req: AdmissionRequest): Promise<Admission> {
    const org = req.caller.orgId;
    const plan = planOf(req.config, org);
    if (!plan) return new Admission({ store: this.#store, local: null, org, targets: req.targets, hold: 0n, holdId: null, tpmDraws: [], countedTokens: 0, now: this.#now });
    const targets = this.#checkPlan(plan, req);
    const managed = targets.some((t) => t.credential.billing === 'managed');

    const maxTokens = requestedMaxTokens(req.body);
    const tokens = likelyTokens(req.inputBytes, maxTokens);
    const draws = rateDraws(plan, req.caller, tokens);
    const hold = req.unbilled ? 0n : worstCaseCharge(
      { model: req.model, operation: req.operation, inputBytes: req.inputBytes, maxTokens, body: req.body, at: this.#now() },
      targets.map((t) => t.credential.billing),
    );
    const holdId = hold > 0n ? randomUUID() : null;
    const now = this.#now();
    let local: MemoryBuckets | null = null;
    let admitted: AdmitResult;
    try {
      admitted = await this.#store.admit({
        draws,
        hold: holdId === null ? null : { org, holdId, amount: hold, allowance: plan.allowance, now: new Date(now), ttlMs: this.#holdTtlMs },
        now,
      });
    } catch (err) {
      // BYOK calls cost no credits: they go on under this process's own limits while the store is away.
      if (!(err instanceof StateUnavailableError) || managed) throw this.#unavailable(org, err);
      local = this.#localBuckets;
      const taken = local.take(draws, now);
      admitted = taken.ok ? taken : { ...taken, refused: 'rate' };
    }
    if (!admitted.ok && admitted.refused === 'rate') {
      throw this.#deny(rateDenial(draws[admitted.index]!, admitted.level), Math.max(1, Math.ceil(admitted.waitMs / 1000)));
    }
    if (!admitted.ok) {
      const available = formatCredits(admitted.available > 0n ? admitted.available : 0n);
      throw this.#deny({
        code: 'credits_exhausted',
        layer: 'org',
        key: org,
        current: available,
        limit: formatCredits(hold),
        reason: `This request may cost up to ${formatCredits(hold)} credits and the organization '${org}' has ${available} available (allowance left this period + wallet − credits held by requests in flight).`,
      });
    }
    const tpmDraws = draws.filter((d) => d.unit === 'tpm');
    return new Admission({ store: this.#store, local, org, targets, hold, holdId, tpmDraws, countedTokens: tokens, now: this.#now });
  }

  #unavailable(org: string, err: unknown): Error {
    if (!(err instanceof StateUnavailableError)) return err as Error;
    return this.#deny({
      code: 'state_unavailable',
      layer: 'state',
      key: org,
      current: 'unreachable',
      limit: 'deny',
      reason: 'The shared state store (Redis) cannot be reached, so credits cannot be checked: managed calls are refused until it is back (state.on_unavailable: deny). BYOK calls still pass.',
    });
  }

  /** The plan's allow-lists: the deployments left to try, or a 403. */
  #checkPlan(plan: OrgPlan, req: AdmissionRequest): Target[] {
    const org = req.caller.orgId;
    // The id the caller named counts too, so a plan keeps working when a deprecated model reroutes.
    // A native call that names no model (a model listing) has nothing to refuse.
    const listed = (id: string | null | undefined) => id != null && plan.models!.has(id);
    const named = req.model !== null || req.requestedModel !== null;
    if (plan.models && named && !listed(req.model?.model_id) && !listed(req.requestedModel)) {
      const asked = req.model?.model_id ?? req.requestedModel ?? 'unknown';
      throw this.#deny({
        code: 'model_not_in_plan',
        layer: 'org',
        key: org,
        current: asked,
        limit: [...plan.models],
        reason: `The model '${asked}' is not in the plan '${plan.name}' of organization '${org}'.`,
      });
    }
    if (!plan.providers) return req.targets;
    const allowed = req.targets.filter((t) => plan.providers!.has(t.provider.name));
    if (allowed.length === 0) {
      const providers = [...new Set(req.targets.map((t) => t.provider.name))];
      throw this.#deny({
        code: 'provider_not_in_plan',
        layer: 'org',
        key: org,
        current: providers,
        limit: [...plan.providers],
        reason: `The plan '${plan.name}' of organization '${org}' does not allow ${providers.join(', ')}.`,
      });
    }
    return allowed;
  }

  #deny(envelope: DenialEnvelope, retryAfterSeconds?: number): DenialError {
    this.#metrics?.admissionDenials.labels(envelope.code, envelope.layer).inc();
    return new DenialError(envelope, retryAfterSeconds);
  }
}

function rateDraws(plan: OrgPlan, caller: Caller, tokens: number): TaggedDraw[] {
  const draws: TaggedDraw[] = [];
  const org = caller.orgId;
  const add = (layer: 'org' | 'key', subject: string, limits: Limits) => {
    if (limits.rpm) draws.push({ org, key: `rpm:${layer}:${subject}`, cost: 1, rule: limits.rpm, layer, subject, unit: 'rpm' });
    if (limits.tpm) draws.push({ org, key: `tpm:${layer}:${subject}`, cost: tokens, rule: limits.tpm, layer, subject, unit: 'tpm' });
  };
  if (caller.keyId !== null) add('key', caller.keyId, plan.perKey);
  add('org', caller.orgId, plan.perOrg);
  return draws;
}

function rateDenial(draw: TaggedDraw, level: number): DenialEnvelope {
  const limit = draw.rule.capacity;
  const what = draw.unit === 'rpm' ? 'requests' : 'tokens';
  const who = draw.layer === 'key' ? `key '${draw.subject}'` : `organization '${draw.subject}'`;
  return {
    code: draw.unit === 'rpm' ? 'rpm_exceeded' : 'tpm_exceeded',
    layer: draw.layer,
    key: draw.subject,
    current: Math.max(0, Math.round(limit - level)),
    limit,
    reason: `The ${who} is limited to ${limit} ${what} per minute${draw.unit === 'tpm' ? ` and this request counts ${draw.cost}` : ''}; retry after the Retry-After delay.`,
  };
}

interface AdmissionParts {
  store: Pick<StateStore, 'adjust' | 'release'>;
  /** This process's buckets, when the shared store was away at admission (a BYOK call). */
  local: MemoryBuckets | null;
  org: string;
  targets: Target[];
  hold: bigint;
  holdId: string | null;
  tpmDraws: TaggedDraw[];
  countedTokens: number;
  now: () => number;
}

/**
 * One admitted request. Its charge's settle takes `settlement()` with it — the hold to drop and the
 * TPM buckets to correct, in the same step that books the charge; without an upstream call it is
 * released instead. Either ends it: what comes after is a no-op.
 */
export class Admission {
  readonly targets: Target[];
  /** Names the credit hold (null: nothing held). */
  readonly holdId: string | null;
  readonly #parts: AdmissionParts;
  #done = false;

  constructor(parts: AdmissionParts) {
    this.#parts = parts;
    this.targets = parts.targets;
    this.holdId = parts.holdId;
  }

  /** Credits held for this request, in pico-credits. */
  get hold(): bigint {
    return this.#parts.hold;
  }

  /** The hold and TPM corrections for the charge's settle (the real tokens replace the estimate). */
  settlement(record: Pick<UsageRecord, 'prompt_tokens' | 'completion_tokens'>): Hold {
    const { holdId, hold, local, now } = this.#parts;
    if (this.#done) return { id: holdId, pico: hold, corrections: [] };
    const corrections = this.#finish(record.prompt_tokens + record.completion_tokens);
    if (local !== null) {
      local.adjust(corrections, now());
      return { id: holdId, pico: hold, corrections: [] };
    }
    return { id: holdId, pico: hold, corrections };
  }

  /** Settles with no recorder to take the settlement (a charge booked elsewhere): drops the hold, corrects TPM. */
  settle(record: Pick<UsageRecord, 'prompt_tokens' | 'completion_tokens'>): void {
    if (this.#done) return;
    this.#apply(this.#finish(record.prompt_tokens + record.completion_tokens));
  }

  /** No upstream was reached: nothing to charge, the tokens counted up front given back. */
  release(): void {
    if (this.#done) return;
    this.#apply(this.#finish(0));
  }

  /** Ends the admission: the TPM corrections the reported tokens call for. */
  #finish(tokens: number): TaggedDraw[] {
    this.#done = true;
    const delta = tokens - this.#parts.countedTokens;
    return delta === 0 ? [] : this.#parts.tpmDraws.map((d) => ({ ...d, cost: delta }));
  }

  #apply(corrections: TaggedDraw[]): void {
    const { store, local, org, holdId, now } = this.#parts;
    if (holdId !== null) void store.release(org, holdId).catch(() => {});
    if (corrections.length === 0) return;
    if (local !== null) local.adjust(corrections, now());
    else void store.adjust(corrections, now()).catch(() => {});
  }
}
