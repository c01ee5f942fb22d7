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
