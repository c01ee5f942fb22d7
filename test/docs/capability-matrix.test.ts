/** docs/capabilities.md is what the catalog, the adapters and the tests say today. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { findEvidence, MATRIX_FILE, renderMatrix } from '../../docs/capability-matrix.ts';
import { loadTestCatalog } from '../support/catalog.ts';
import { CAPABILITIES, OPERATIONS } from '../support/capabilities.ts';

test('the capability matrix in the docs is up to date (npm run docs:capabilities)', () => {
  assert.equal(readFileSync(MATRIX_FILE, 'utf8'), renderMatrix(loadTestCatalog()));
});

test('every piece of evidence names a real provider and capability', () => {
  const catalog = loadTestCatalog();
  for (const [provider, caps] of findEvidence()) {
    assert.ok(catalog.providers.has(provider), `proves('${provider}', …) names no catalog provider`);
    for (const capability of caps.keys()) assert.ok(([...CAPABILITIES, ...OPERATIONS] as readonly string[]).includes(capability), capability);
  }
});
