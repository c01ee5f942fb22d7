/**
 * Generates docs/capabilities.md: provider × capability (and × the operations only some vendors
 * serve, and × realtime through passthrough), from the catalog (what each provider claims; for an
 * operation, whether the vendor's documented paths list it; for realtime, whether they list a socket
 * Tollbooth meters), the adapter registry (what Tollbooth translates) and the tests (what a replayed
 * recording proves, via `proves(...)` calls). Run: `npm run docs:capabilities`.
 */
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import type { Catalog } from '../src/catalog/catalog.ts';
import { hasAdapter } from '../src/providers/registry.ts';
import type { ProviderRecord } from '../src/catalog/types.ts';
import { realtimeDialect } from '../src/realtime/dialects.ts';
import { CAPABILITIES, OPERATIONS, PASSTHROUGH } from '../test/support/capabilities.ts';

/** The paths below a provider's base URL that serve each operation (OpenAI's wire, Cohere's). */
const OPERATION_PATHS: Record<(typeof OPERATIONS)[number], { label: string; paths: string[] }> = {
  text_completion: { label: 'completions', paths: ['/completions'] },
  rerank: { label: 'rerank', paths: ['/rerank', '/v2/rerank'] },
  audio_speech: { label: 'speech', paths: ['/audio/speech'] },
};

/** Whether the matrix says `provider` offers `capability` (before any test proves it). */
export function offers(provider: ProviderRecord, capability: string): boolean {
  const operation = OPERATION_PATHS[capability as (typeof OPERATIONS)[number]];
  if (operation) return operation.paths.some((path) => provider.passthrough_paths.includes(path));
  // A realtime socket is relayed where the provider's paths list it and Tollbooth meters its API
  // (src/realtime/dialects.ts), as the upgrade requires (src/server/realtime.ts).
  if (capability === 'realtime') return provider.passthrough_paths.some((path) => realtimeDialect(provider.api, path) !== null);
  return (provider.capabilities as string[]).includes(capability);
}

const MARK: Record<Evidence['source'], string> = { recording: '✓', borrowed: '≈', 'hand-written': '✎' };

const ROOT = new URL('..', import.meta.url).pathname;
export const MATRIX_FILE = join(ROOT, 'docs', 'capabilities.md');

/** What the best proof replays, strongest first. */
const SOURCES = ['recording', 'borrowed', 'hand-written'] as const;
const SOURCE_OF: Record<string, (typeof SOURCES)[number]> = { proves: 'recording', provesBorrowed: 'borrowed', provesHandWritten: 'hand-written' };

export interface Evidence {
  files: string[];
  /**
   * `recording`: this provider's recording; `borrowed`: only another vendor's recording of the same
   * wire (no recording of this provider exists); `hand-written`: only messages written from the
   * provider's API reference (no recording of the wire exists at all).
   */
  source: (typeof SOURCES)[number];
}

/** provider → capability → the test files that prove it. */
export function findEvidence(testDir = join(ROOT, 'test')): Map<string, Map<string, Evidence>> {
  const evidence = new Map<string, Map<string, Evidence>>();
  for (const file of walk(testDir)) {
    if (!file.endsWith('.test.ts')) continue;
    const source = readFileSync(file, 'utf8');
    for (const call of source.matchAll(/\b(proves|provesBorrowed|provesHandWritten)\(\s*'([^']+)'((?:\s*,\s*'[^']+')+)\s*\)/g)) {
      const provider = call[2]!;
      for (const [, capability] of call[3]!.matchAll(/'([^']+)'/g)) {
        const byCapability = evidence.get(provider) ?? new Map<string, Evidence>();
        const found: Evidence = byCapability.get(capability!) ?? { files: [], source: 'hand-written' };
        const name = relative(ROOT, file);
        if (!found.files.includes(name)) found.files.push(name);
        const source = SOURCE_OF[call[1]!]!;
        if (SOURCES.indexOf(source) < SOURCES.indexOf(found.source)) found.source = source;
        byCapability.set(capability!, found);
        evidence.set(provider, byCapability);
      }
    }
  }
  return evidence;
}

function walk(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? walk(path) : [path];
  });
}

export function renderMatrix(catalog: Catalog, evidence = findEvidence()): string {
  const columns: string[] = [...CAPABILITIES, ...OPERATIONS, ...PASSTHROUGH];
  const header = ['provider', 'api', ...CAPABILITIES.map((c) => c.replace('_', ' ')), ...OPERATIONS.map((o) => OPERATION_PATHS[o].label), ...PASSTHROUGH];
  const rows = [...catalog.providers.values()].map((p) => {
    const cells = columns.map((c) => {
      const claimed = offers(p, c);
      const proof = hasAdapter(p.api) ? evidence.get(p.name)?.get(c) : undefined;
      if (!claimed) return '—';
      return proof === undefined ? '◌' : MARK[proof.source];
    });
    return [p.name, p.api, ...cells];
  });
  const sources = [...evidence.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([provider, caps]) => `- **${provider}**: ${[...caps.entries()].map(([c, e]) => `${c}${e.source === 'recording' ? '' : ` (${e.source})`} in ${e.files.map((f) => `\`${f}\``).join(', ')}`).join('; ')}`);
  return [
    '# Capability matrix',
    '',
    'Generated by `npm run docs:capabilities` from the catalog (`config/catalog/providers.yaml`), the adapter',
    'registry and the tests; `test/docs/capability-matrix.test.ts` fails when this file is out of date.',
    '',
    'Through the unified API: ✓ a test replays a recording of this provider doing it through the real sidecar ·',
    '≈ proven with another vendor’s recording of the same wire format (no recording of this provider exists) ·',
    '✎ proven only with messages hand-written from the provider’s API reference (no recording of the wire',
    'exists) · ◌ the catalog claims it but no replay test proves it yet · — not offered. Completions, rerank and',
    'speech (POST /v1/completions, /v1/rerank, /v1/audio/speech) are offered where the vendor’s documented',
    'paths (`passthrough_paths`) list them. Realtime is a WebSocket session through native passthrough (no',
    'unified endpoint), offered where those paths list a realtime API Tollbooth meters (OpenAI Realtime,',
    'Gemini Live: `src/realtime/dialects.ts`).',
    '',
    `| ${header.join(' | ')} |`,
    `|${header.map(() => '---').join('|')}|`,
    ...rows.map((r) => `| ${r.join(' | ')} |`),
    '',
    '## Evidence',
    '',
    ...sources,
    '',
  ].join('\n');
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { loadTestCatalog } = await import('../test/support/catalog.ts');
  writeFileSync(MATRIX_FILE, renderMatrix(loadTestCatalog()));
  process.stdout.write(`wrote ${relative(process.cwd(), MATRIX_FILE)}\n`);
}
