/** One concrete way to serve a request: provider, upstream model name, credential, endpoint. */
import type { ModelRecord, ProviderRecord } from '../catalog/types.ts';
import type { Credential } from '../credentials/store.ts';
import { credentialRegion } from '../credentials/aws/credential-string.ts';

export interface Target {
  provider: ProviderRecord;
  /** The catalog model served; null on a passthrough call naming a model the catalog lacks. */
  model: ModelRecord | null;
  upstreamModel: string;
  credential: Credential;
  /** Effective base URL (credential override or catalog default, region filled), no trailing slash. */
  baseUrl: string;
  /** Share of traffic under the `weighted` strategy. */
  weight: number;
}

/** The base URL a credential reaches its provider at, or why it has none. */
export function baseUrlFor(provider: ProviderRecord, credential: Credential): { url: string } | { missing: string } {
  const template = credential.baseUrl ?? provider.base_url;
  if (template === null) return { missing: `credential '${credential.id}' sets no base_url` };
  // An AWS credential string names its own region, which wins over `region:` (credential-string.ts).
  const region = credentialRegion(provider, credential);
  if ('invalid' in region) return { missing: `credential '${credential.id}': ${region.invalid}` };
  if (template.includes('{region}')) {
    if (region.region === null) return { missing: `credential '${credential.id}' sets no region` };
    return { url: trimSlash(template.replaceAll('{region}', region.region)) };
  }
  return { url: trimSlash(template) };
}

function trimSlash(url: string): string {
  return url.endsWith('/') ? url.slice(0, -1) : url;
}
