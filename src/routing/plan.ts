/**
 * Which deployments may serve a resolved model, in the order to try them. Deployments whose
 * credential cannot serve are left out; when none is left the caller gets one clear 503.
 */
import type { Catalog } from '../catalog/catalog.ts';
import type { ModelRecord } from '../catalog/types.ts';
import type { DeploymentConfig, RouteConfig } from '../config/types.ts';
import type { CredentialStore } from '../credentials/store.ts';
import { GatewayError } from '../errors/catalog.ts';
import { baseUrlFor, type Target } from './target.ts';

export interface RoutingTable {
  catalog: Catalog;
  credentials: CredentialStore;
  routes: Readonly<Record<string, RouteConfig>>;
}

/**
 * `org` is the caller's: a deployment that names no credential uses that org's own default
 * credential for the provider (created over the credential API) before the operator's.
 */
export function planTargets(table: RoutingTable, model: ModelRecord, org: string | null = null): Target[] {
  const deployments: readonly DeploymentConfig[] = table.routes[model.model_id]?.deployments ?? [
    { provider: model.provider, credential: null, upstream_model: null, weight: 1 },
  ];
  const targets: Target[] = [];
  const reasons: string[] = [];
  for (const d of deployments) {
    const provider = table.catalog.provider(d.provider);
    if (!provider) continue;
    const credential = d.credential === null ? table.credentials.defaultFor(d.provider, org) : table.credentials.get(d.credential);
    if (!credential) {
      reasons.push(`${d.provider}: no credential configured`);
      continue;
    }
    if (credential.unavailable !== null) {
      reasons.push(`${d.provider}: ${credential.unavailable}`);
      continue;
    }
    const base = baseUrlFor(provider, credential);
    if ('missing' in base) {
      reasons.push(`${d.provider}: ${base.missing}`);
      continue;
    }
    targets.push({ provider, model, credential, baseUrl: base.url, upstreamModel: d.upstream_model ?? model.upstream_model, weight: d.weight });
  }
  if (targets.length === 0) {
    throw new GatewayError(
      'credential_unavailable',
      `No deployment of '${model.model_id}' can serve right now (${reasons.join('; ') || 'no deployment configured'}).`,
    );
  }
  return targets;
}
