/**
 * The chart carries its own catalog (issue 17, item 6): files/catalog holds real files, the same
 * bytes as config/catalog (scripts/chart-catalog.ts copies them), and nothing in the chart is a
 * symlink, which `helm package` and OCI pushes drop or refuse.
 */
import assert from 'node:assert/strict';
import { lstatSync, readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { test } from 'node:test';
import { bundledCatalogDefine, catalogYamlFiles, SOURCE, TARGET } from '../../scripts/chart-catalog.ts';

const CHART = new URL('../../charts/tollbooth/', import.meta.url).pathname;

function walk(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(join(dir, e.name)) : [join(dir, e.name)]));
}

test('nothing in the chart is a symlink', () => {
  const links = [CHART, ...walk(CHART)].filter((p) => lstatSync(p).isSymbolicLink()).map((p) => relative(CHART, p));
  assert.deepEqual(links, [], 'run: node scripts/chart-catalog.ts');
  assert.ok(lstatSync(TARGET).isDirectory());
});

test('files/catalog is config/catalog, file for file and byte for byte (else run: node scripts/chart-catalog.ts)', () => {
  const wanted = catalogYamlFiles(SOURCE);
  assert.ok(wanted.includes('providers.yaml') && wanted.length > 10);
  assert.deepEqual(catalogYamlFiles(TARGET), wanted);
  assert.deepEqual(walk(TARGET).map((p) => relative(TARGET, p)).sort(), wanted, 'no stray files');
  for (const f of wanted) assert.ok(readFileSync(join(TARGET, f)).equals(readFileSync(join(SOURCE, f))), `${f} differs`);
});

test('the chart lists exactly those files (tollbooth.bundledCatalog, written by the same script)', () => {
  const helpers = readFileSync(join(CHART, 'templates/_helpers.tpl'), 'utf8');
  assert.ok(helpers.includes(bundledCatalogDefine(catalogYamlFiles(SOURCE))));
});
