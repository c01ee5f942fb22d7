/** The real catalog (config/catalog), loaded once for tests that need its data. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import type { Catalog } from '../../src/catalog/catalog.ts';
import { loadConfig } from '../../src/config/load.ts';

export const CATALOG_DIR = new URL('../../config/catalog', import.meta.url).pathname;

let cached: Catalog | null = null;

export function loadTestCatalog(): Catalog {
  if (!cached) {
    const dir = mkdtempSync(join(tmpdir(), 'tollbooth-catalog-'));
    const file = join(dir, 'tollbooth.yaml');
    writeFileSync(file, stringify({ catalog: CATALOG_DIR }));
    try {
      cached = loadConfig(file).catalog;
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  return cached;
}

/**
 * A catalog model declared in the config as an active copy named `modelId` (same upstream name and
 * prices), for a test that needs a model the catalog has retired: a retired id routes to its
 * replacement, a passthrough call meters the active record of an upstream name.
 */
export function activeCopy(catalogId: string, modelId: string): Record<string, unknown> {
  const model = loadTestCatalog().models.get(catalogId);
  if (!model) throw new Error(`no catalog model ${catalogId}`);
  const { replacement_id: _, deprecation_date: __, sunset_date: ___, ...record } = model;
  return { ...record, model_id: modelId, status: 'active' };
}
