/**
 * package.json's production dependencies are exactly what src/ imports (issue 17, item 15): the
 * image installs them (npm ci --omit=dev), so one that src/ does not use is dead weight in every
 * pod, and one src/ uses that is only a devDependency breaks the image.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';

const ROOT = new URL('../../', import.meta.url).pathname;
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : []));
}

/** Packages src/ loads at run time: `import … from 'x'`, `import('x')`, not `import type`. */
function runtimeImports(): Map<string, string[]> {
  const used = new Map<string, string[]>();
  for (const file of sources(join(ROOT, 'src'))) {
    const code = readFileSync(file, 'utf8');
    for (const m of code.matchAll(/^\s*import\s+(type\s+)?[^'"]*?from\s*'([^'.][^']*)'|import\(\s*'([^'.][^']*)'\s*\)/gm)) {
      if (m[1]) continue;
      const spec = (m[2] ?? m[3])!;
      if (spec.startsWith('node:')) continue;
      const name = spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]!;
      used.set(name, [...(used.get(name) ?? []), file.slice(ROOT.length)]);
    }
  }
  return used;
}

test('every production dependency is used by src/, and src/ needs no other', () => {
  const used = runtimeImports();
  const declared = Object.keys(pkg.dependencies ?? {}).sort();
  assert.deepEqual(declared.filter((d) => !used.has(d)), [], 'unused by src/: move it to devDependencies (or drop it)');
  assert.deepEqual([...used.keys()].filter((u) => !declared.includes(u)).sort(), [], 'imported by src/ but not a production dependency');
});

test('http-proxy-3 is loaded only for WebSocket upgrades (realtime passthrough), never on the HTTP path', () => {
  assert.ok(pkg.dependencies['http-proxy-3']);
  assert.equal(pkg.devDependencies['http-proxy-3'], undefined);
  // A lazy import() in the upgrade handler: the HTTP path never loads it (start-up memory).
  assert.deepEqual([...new Set(runtimeImports().get('http-proxy-3'))], ['src/server/realtime.ts']);
  assert.doesNotMatch(readFileSync(join(ROOT, 'src/server/realtime.ts'), 'utf8'), /^import [^\n]*'http-proxy-3'/m);
});
