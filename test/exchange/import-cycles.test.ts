/**
 * No import cycles in src/: the folders read as the request's way (listener → auth → routing →
 * adapter → upstream → metering), and a cycle makes one module's load order depend on another's.
 * Every static import and re-export counts, `import type` included (a type cycle is still a
 * tangle); dynamic `import()` does not (it runs after loading).
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { test } from 'node:test';

const SRC = resolve(import.meta.dirname, '../../src');

/** Cycles known and owned elsewhere, each to be broken by its owner; the test fails once one is gone too, so this list only shrinks. */
const KNOWN: string[][] = [];

const FROM = /^\s*(?:import|export)\s[^;]*?\bfrom\s+'(\.{1,2}\/[^']+)'/gms;

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    return e.isDirectory() ? sourceFiles(path) : e.name.endsWith('.ts') ? [path] : [];
  });
}

function importGraph(): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const file of sourceFiles(SRC)) {
    const text = readFileSync(file, 'utf8');
    graph.set(file, [...text.matchAll(FROM)].map((m) => resolve(dirname(file), m[1]!)));
  }
  return graph;
}

/** Strongly connected components with more than one module (or a module importing itself): Tarjan. */
function cycles(graph: Map<string, string[]>): string[][] {
  let index = 0;
  const indexOf = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  const connect = (v: string) => {
    indexOf.set(v, index);
    low.set(v, index++);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!graph.has(w)) continue;
      if (!indexOf.has(w)) {
        connect(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) {
        low.set(v, Math.min(low.get(v)!, indexOf.get(w)!));
      }
    }
    if (low.get(v) !== indexOf.get(v)) return;
    const component: string[] = [];
    let w: string;
    do {
      w = stack.pop()!;
      onStack.delete(w);
      component.push(w);
    } while (w !== v);
    if (component.length > 1 || (graph.get(v) ?? []).includes(v)) found.push(component.map((f) => relative(SRC, f)).sort());
  };
  for (const v of graph.keys()) if (!indexOf.has(v)) connect(v);
  return found;
}

test('src/ has no import cycle (but the known ones, which only shrink)', () => {
  const found = cycles(importGraph()).map((c) => c.join(' ↔ '));
  const known = KNOWN.map((c) => [...c].sort().join(' ↔ '));
  assert.deepEqual(found.filter((c) => !known.includes(c)), [], 'new import cycles');
  assert.deepEqual(known.filter((c) => !found.includes(c)), [], 'a known cycle is gone: remove it from KNOWN');
});

test('the cycle finder finds a cycle', () => {
  const a = join(SRC, 'a.ts');
  const b = join(SRC, 'b.ts');
  assert.deepEqual(cycles(new Map([[a, [b]], [b, [a]]])), [['a.ts', 'b.ts']]);
  assert.deepEqual(cycles(new Map([[a, [b]], [b, []]])), []);
});
