/**
 * Wallets and balances on the ops listener (the router checks the admin key, its role and
 * X-Organization-ID). An owner or admin reads its own org's balance; credits are granted only by an
 * `operator` key (the platform team), which may act on any declared org — an org cannot top up its
 * own wallet. Credits travel as exact decimal strings.
 *
 *   GET  /orgs/{org_id}/balance           allowance used/remaining this period, wallet, held, available
 *   POST /orgs/{org_id}/wallet/grants     {credits, id?, note?} → the ledger entry (201; 200 for a repeated id)
 *   POST /orgs/{org_id}/wallet/top-ups    same, recorded as kind "top_up"
 */
import { randomUUID } from 'node:crypto';
import { planOf } from '../../admission/plans.ts';
import { GatewayError } from '../../errors/catalog.ts';
import { formatCredits, parseCredits } from '../../metering/credits.ts';
import type { GrantEntry } from '../../metering/ledger/entry.ts';
import type { AdminContext, AdminRouter } from './router.ts';

export function registerWalletRoutes(admin: AdminRouter): void {
  admin.add('GET', '/orgs/{org_id}/balance', async (ctx) => {
    const org = ownOrg(ctx, ctx.params.org_id!);
    const plan = planOf(ctx.runtime.config, org);
    const balance = await ctx.services.book.balance(org);
    const held = balance.held;
    return {
      body: {
        org,
        plan: plan?.name ?? null,
        allowance: plan?.allowance
          ? {
              period: plan.allowance.period,
              current_period: balance.period,
              credits: formatCredits(balance.allowance),
              used: formatCredits(balance.allowanceUsed),
              remaining: formatCredits(balance.allowanceRemaining),
            }
          : null,
        wallet: { balance: formatCredits(balance.wallet), granted: formatCredits(balance.granted) },
        charged: formatCredits(balance.charged),
        reserved: formatCredits(held),
        available: formatCredits(balance.spendable - held),
        limited: plan !== null,
      },
    };
  });
  admin.add('POST', '/orgs/{org_id}/wallet/grants', (ctx) => addCredits(ctx, 'grant'));
  admin.add('POST', '/orgs/{org_id}/wallet/top-ups', (ctx) => addCredits(ctx, 'top_up'));
}

async function addCredits(ctx: AdminContext, kind: GrantEntry['kind']): Promise<{ status: number; body: GrantEntry }> {
  if (ctx.caller.role !== 'operator') {
    throw new GatewayError('forbidden', 'Granting credits needs an operator key: an organization cannot top up its own wallet.');
  }
  const org = ownOrg(ctx, ctx.params.org_id!);
  const body = await ctx.body();
  if (body.org !== undefined) ownOrg(ctx, String(body.org));
  const pico = creditsField(body.credits);
  if (body.id !== undefined && (typeof body.id !== 'string' || !/^[\w.:-]{1,128}$/.test(body.id))) {
    throw new GatewayError('invalid_request', "'id' must be 1 to 128 letters, digits or . _ : - (it makes a retried request apply once).");
  }
  if (body.note !== undefined && typeof body.note !== 'string') throw new GatewayError('invalid_request', "'note' must be a string.");
  const { entry, created, acked } = await ctx.services.book.grant({
    org,
    pico,
    kind,
    grantId: (body.id as string | undefined) ?? randomUUID(),
    source: 'admin',
    by: ctx.caller.keyId,
    note: (body.note as string | undefined) ?? '',
  });
  if (!created && (entry.credits !== formatCredits(pico) || entry.kind !== kind)) {
    throw new GatewayError('invalid_request', `The id '${entry.grant_id}' was already used for a different ${entry.kind} of ${entry.credits} credits.`, { status: 409 });
  }
  // Answer only once the entry is on disk.
  await acked;
  return { status: created ? 201 : 200, body: entry };
}

/** The org a request may act on: its own, or — for an operator — any declared org. */
function ownOrg(ctx: AdminContext, org: string): string {
  if (ctx.caller.role === 'operator') {
    if (!ctx.runtime.config.orgs.some((o) => o.id === org)) throw new GatewayError('not_found', `Unknown organization '${org}'.`);
    return org;
  }
  if (org !== ctx.caller.orgId) throw new GatewayError('forbidden', `This key administers organization '${ctx.caller.orgId}', not '${org}'.`);
  return org;
}

function creditsField(value: unknown): bigint {
  let pico: bigint | null = null;
  if (typeof value === 'string' || (typeof value === 'number' && Number.isFinite(value))) {
    try {
      pico = parseCredits(String(value));
    } catch {
      pico = null;
    }
  }
  if (pico === null || pico <= 0n) {
    throw new GatewayError('invalid_request', "'credits' must be a positive decimal amount such as \"100\" or \"12.5\" (at most 12 decimals; a string keeps it exact).");
  }
  return pico;
}
