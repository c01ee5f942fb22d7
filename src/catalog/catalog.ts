/** The catalog in memory: providers and models by id, with deprecation resolution. */
import { resolveModel, type Resolution } from './deprecation.ts';
import { registerCatalogVersion } from '../metering/pricing/catalog-version.ts';
import type { ModelRecord, ProviderRecord } from './types.ts';

export class Catalog {
  readonly providers: ReadonlyMap<string, ProviderRecord>;
  readonly models: ReadonlyMap<string, ModelRecord>;
  /** Fingerprint of every price in the catalog; each charge stamps the version that priced it. */
  readonly priceVersion: string;
  /** `provider\0upstream_model` → model, for metering native passthrough calls. */
  readonly #byUpstream = new Map<string, ModelRecord>();

  constructor(providers: Iterable<ProviderRecord>, models: Iterable<ModelRecord>) {
    this.providers = new Map([...providers].map((p) => [p.name, p]));
    this.models = new Map([...models].map((m) => [m.model_id, m]));
    this.priceVersion = registerCatalogVersion(this.models.values());
    for (const m of this.models.values()) {
      const key = `${m.provider}\0${m.upstream_model}`;
      // The active record wins when several ids share an upstream name.
      if (!this.#byUpstream.has(key) || m.status === 'active') this.#byUpstream.set(key, m);
    }
  }

  resolve(modelId: string): Resolution {
    return resolveModel(this.models, modelId);
  }

  provider(name: string): ProviderRecord | undefined {
    return this.providers.get(name);
  }

  /** The catalog model a native request names, by the provider's own model name. */
  modelForUpstream(provider: string, upstreamModel: string): ModelRecord | undefined {
    return this.#byUpstream.get(`${provider}\0${upstreamModel}`);
  }

  modelsOf(provider: string): ModelRecord[] {
    return [...this.models.values()].filter((m) => m.provider === provider);
  }
}
