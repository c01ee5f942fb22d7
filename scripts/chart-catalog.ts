/**
 * Copies config/catalog into charts/tollbooth/files/catalog, so the chart carries its own catalog
 * (`helm package` and OCI pushes refuse or drop files reached through a symlink out of the chart),
 * and rewrites the list of bundled files in the chart's _helpers.tpl ("tollbooth.bundledCatalog").
 * Run it after editing the catalog: `node scripts/chart-catalog.ts`; test/charts/catalog.test.ts
 * fails while the chart's copy differs from config/catalog.
 */
import { copyFileSync, lstatSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';

const ROOT = new URL('../', import.meta.url).pathname;
export const SOURCE = join(ROOT, 'config/catalog');
export const TARGET = join(ROOT, 'charts/tollbooth/files/catalog');
const HELPERS = join(ROOT, 'charts/tollbooth/templates/_helpers.tpl');

/** Every file below `dir`, as sorted paths relative to it. */
export function listFiles(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const entry of readdirSync(d, { withFileTypes: true })) {
      const path = join(d, entry.name);
      if (entry.isDirectory()) walk(path);
      else out.push(relative(dir, path));
    }
  };
  walk(dir);
  return out.sort();
}

/** The catalog files Tollbooth loads (YAML), as the chart's ConfigMap carries them. */
export function catalogYamlFiles(dir: string): string[] {
  return listFiles(dir).filter((f) => /\.ya?ml$/.test(f));
}

/** The "tollbooth.bundledCatalog" define, listing `files` one per line. */
export function bundledCatalogDefine(files: string[]): string {
  return `{{- define "tollbooth.bundledCatalog" -}}\n${files.join('\n')}\n{{- end }}`;
}

export function syncChartCatalog(): string[] {
  // A symlink (the chart's old layout) is replaced by a real directory.
  try {
    if (lstatSync(TARGET).isSymbolicLink() || lstatSync(TARGET).isDirectory()) rmSync(TARGET, { recursive: true, force: true });
  } catch {
    // absent
  }
  // Only what Tollbooth loads: PRICES.md (where each price comes from) stays in the repository.
  const files = catalogYamlFiles(SOURCE);
  for (const f of files) {
    mkdirSync(dirname(join(TARGET, f)), { recursive: true });
    copyFileSync(join(SOURCE, f), join(TARGET, f));
  }
  const helpers = readFileSync(HELPERS, 'utf8');
  const next = helpers.replace(/\{\{- define "tollbooth\.bundledCatalog" -\}\}\n[\s\S]*?\{\{- end \}\}/, bundledCatalogDefine(files));
  if (next !== helpers) writeFileSync(HELPERS, next);
  return files;
}

if (import.meta.main) {
  const files = syncChartCatalog();
  process.stdout.write(`copied ${files.length} files from config/catalog to charts/tollbooth/files/catalog\n`);
}
