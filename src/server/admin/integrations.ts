/**
 * GET /integrations/llm-providers and /integrations/llm-providers/{provider_name}: the provider
 * records with their `models[]` and `auth_schemas[]`. Built from the catalog only: no secret can
 * appear here.
 */
import type { Catalog } from '../../catalog/catalog.ts';
import type { ProviderRecord } from '../../catalog/types.ts';
import { GatewayError } from '../../errors/catalog.ts';
import type { AdminRouter } from './router.ts';

function providerView(catalog: Catalog, p: ProviderRecord) {
  return {
    name: p.name,
    display_name: p.display_name,
    api: p.api,
    base_url: p.base_url,
    capabilities: p.capabilities,
    auth_schemas: p.auth_schemas,
    docs_url: p.docs_url,
    models: catalog.modelsOf(p.name),
  };
}

export function registerIntegrationRoutes(admin: AdminRouter): void {
  admin.add('GET', '/integrations/llm-providers', async ({ runtime }) => ({
    body: { providers: [...runtime.catalog.providers.values()].map((p) => providerView(runtime.catalog, p)) },
  }));
  admin.add('GET', '/integrations/llm-providers/{provider_name}', async ({ runtime, params }) => {
    const provider = runtime.catalog.provider(params.provider_name!);
    if (!provider) throw new GatewayError('provider_not_found', `Unknown provider '${params.provider_name}'.`);
    return { body: providerView(runtime.catalog, provider) };
  });
}
