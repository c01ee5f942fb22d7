/**
 * Org plans as admission uses them, derived once per config snapshot: allowance in pico-credits,
 * allow-lists as sets, rate limits as bucket rules. An org without a plan has no allowance, no
 * allow-list, no rate limit and no credit check; its usage is still charged to the ledger.
 */
import type { PlanConfig, TollboothConfig } from '../config/types.ts';
import { parseCredits } from '../metering/credits.ts';
import type { Allowance } from '../metering/ledger/accounts.ts';
import { perMinute, type BucketRule } from './token-bucket.ts';

export interface Limits {
  rpm: BucketRule | null;
  tpm: BucketRule | null;
}

export interface OrgPlan {
  name: string;
  allowance: Allowance | null;
  models: ReadonlySet<string> | null;
  providers: ReadonlySet<string> | null;
  perKey: Limits;
  perOrg: Limits;
}

const cache = new WeakMap<TollboothConfig, Map<string, OrgPlan>>();

/** The org's plan under `config`, or null when it has none. */
export function planOf(config: TollboothConfig, org: string): OrgPlan | null {
  let plans = cache.get(config);
  if (!plans) {
    plans = new Map();
    for (const o of config.orgs) {
      const plan = o.plan === null ? undefined : config.plans[o.plan];
      if (plan) plans.set(o.id, resolvePlan(o.plan!, plan));
    }
    cache.set(config, plans);
  }
  return plans.get(org) ?? null;
}

function resolvePlan(name: string, plan: PlanConfig): OrgPlan {
  return {
    name,
    allowance: plan.allowance ? { pico: parseCredits(String(plan.allowance.credits)), period: plan.allowance.period } : null,
    models: plan.models ? new Set(plan.models) : null,
    providers: plan.providers ? new Set(plan.providers) : null,
    perKey: limits(plan.limits.per_key),
    perOrg: limits(plan.limits.per_org),
  };
}

function limits(config: { rpm: number | null; tpm: number | null }): Limits {
  return { rpm: config.rpm === null ? null : perMinute(config.rpm), tpm: config.tpm === null ? null : perMinute(config.tpm) };
}
