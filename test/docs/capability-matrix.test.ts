/** docs/capabilities.md is what the catalog, the adapters and the tests say today. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { findEvidence, MATRIX_FILE, offers, renderMatrix } from '../../docs/capability-matrix.ts';
import { createAdapter, hasAdapter } from '../../src/providers/registry.ts';
import type { Target } from '../../src/routing/target.ts';
import { loadTestCatalog } from '../support/catalog.ts';
import { CAPABILITIES, OPERATIONS, PASSTHROUGH } from '../support/capabilities.ts';

test('the capability matrix in the docs is up to date (npm run docs:capabilities)', () => {
  assert.equal(readFileSync(MATRIX_FILE, 'utf8'), renderMatrix(loadTestCatalog()));
});

test('every piece of evidence names a real provider and capability', () => {
  const catalog = loadTestCatalog();
  for (const [provider, caps] of findEvidence()) {
    assert.ok(catalog.providers.has(provider), `proves('${provider}', …) names no catalog provider`);
    for (const capability of caps.keys()) assert.ok(([...CAPABILITIES, ...OPERATIONS, ...PASSTHROUGH] as readonly string[]).includes(capability), capability);
  }
});

/** The smallest valid body of each operation the columns cover. */
const BODIES: Record<(typeof OPERATIONS)[number], Record<string, unknown>> = {
  text_completion: { prompt: 'Say this is a test' },
  rerank: { query: 'capital', documents: ['Paris', 'Berlin'] },
  audio_speech: { input: 'Hello.', voice: 'alloy' },
};

test('the completions, rerank and speech columns claim exactly what each adapter translates', () => {
  for (const provider of loadTestCatalog().providers.values()) {
    for (const operation of OPERATIONS) {
      let translated = hasAdapter(provider.api);
      if (translated) {
        // Azure's deployment-scoped and versionless paths alike: the operation check comes first.
        const target = { provider, model: null, upstreamModel: 'm', baseUrl: 'http://127.0.0.1:1', weight: 1, credential: { id: 'c', secret: null, apiVersion: null } } as unknown as Target;
        try {
          createAdapter(target).request(operation, { model: 'm', ...BODIES[operation] });
        } catch (e) {
          if ((e as { code?: unknown }).code !== 'operation_not_supported') throw e;
          translated = false;
        }
      }
      assert.equal(offers(provider, operation), translated, `${provider.name} ${operation}`);
    }
  }
});
