/**
 * GET /health/providers: each provider's health as the seed describes it — rolling success rate
 * (2xx vs 4xx/5xx), p50 latency per model (and region, and credential), last check — with breaker states.
 */
import type { DeploymentHealth } from '../../routing/routing-health.ts';
import type { AdminRouter } from './router.ts';

interface ProviderHealth {
  provider: string;
  success_rate: number | null;
  requests: number;
  last_check: string | null;
  deployments: Omit<DeploymentHealth, 'provider'>[];
}

export function summarize(deployments: DeploymentHealth[]): ProviderHealth[] {
  const byProvider = new Map<string, DeploymentHealth[]>();
  for (const d of deployments) byProvider.set(d.provider, [...(byProvider.get(d.provider) ?? []), d]);
  return [...byProvider].map(([provider, list]) => {
    const requests = list.reduce((n, d) => n + d.requests, 0);
    const ok = list.reduce((n, d) => n + (d.success_rate ?? 0) * d.requests, 0);
    const last = list.map((d) => d.last_check).filter((t): t is string => t !== null).sort().at(-1) ?? null;
    return {
      provider,
      success_rate: requests === 0 ? null : ok / requests,
      requests,
      last_check: last,
      deployments: list.map(({ provider: _, ...rest }) => rest),
    };
  });
}

export function registerHealthRoutes(admin: AdminRouter): void {
  admin.add('GET', '/health/providers', async ({ services }) => ({ body: { providers: summarize(services.health.snapshot()) } }));
}
