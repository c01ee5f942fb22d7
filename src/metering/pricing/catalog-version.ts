/**
 * The catalog version a charge was priced by: a fingerprint of every price in the catalog that was
 * loaded (not of names, scores or lifecycle dates), so two charges with the same version were priced
 * by the same prices.
 */
import { hash } from 'node:crypto';
import type { ModelRecord } from '../../catalog/types.ts';

const PRICE_FIELDS = [
  'input_usd_per_1m', 'output_usd_per_1m', 'cache_read_usd_per_1m', 'cache_write_5m_usd_per_1m', 'cache_write_1h_usd_per_1m',
  'reasoning_usd_per_1m', 'audio_input_usd_per_1m', 'audio_output_usd_per_1m', 'image_input_usd_per_1m', 'image_output_usd_per_1m',
  'context_tiers', 'service_tiers', 'unit_prices', 'price_changes',
] as const;

const versions = new WeakMap<ModelRecord, string>();

function priceData(model: ModelRecord): unknown[] {
  return [model.model_id, ...PRICE_FIELDS.map((field) => model[field] ?? null)];
}

function fingerprint(data: unknown): string {
  return `c${hash('sha256', JSON.stringify(data), 'hex').slice(0, 12)}`;
}

/** Computes the version of a loaded catalog and remembers it for each of its models. */
export function registerCatalogVersion(models: Iterable<ModelRecord>): string {
  const list = [...models].sort((a, b) => (a.model_id < b.model_id ? -1 : a.model_id > b.model_id ? 1 : 0));
  const version = fingerprint(list.map(priceData));
  for (const model of list) versions.set(model, version);
  return version;
}

/** The version of the catalog the model was loaded with (a fingerprint of its own prices when it came from none). */
export function catalogVersionOf(model: ModelRecord): string {
  let version = versions.get(model);
  if (!version) {
    version = fingerprint([priceData(model)]);
    versions.set(model, version);
  }
  return version;
}
