/**
 * Every module of src/ (x.ts) → dist/ (x.js): the JavaScript production runs (bin/tollbooth, the image). Types are
 * erased by Node's own stripper (module.stripTypeScriptTypes, what `node src/cli.ts` does at load
 * time) in 'strip' mode: every type becomes blanks, so each line and column of dist/x.js is the
 * same as in src/x.ts and stack traces point into the sources without source maps. Relative import
 * specifiers are rewritten from `.ts` to `.js` (same length, positions kept).
 *
 * Running JavaScript spares the server the stripper (amaro, a WebAssembly module of ~17 MB
 * resident) and the garbage of stripping every module at start-up.
 *
 *   node --disable-warning=ExperimentalWarning scripts/build.ts [--src DIR] [--out DIR]
 *
 * The new tree is written beside the old one and swapped in whole; dist/.built is stamped with the
 * time the build started (bin/tollbooth rebuilds when a file under src/ is newer).
 */
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { stripTypeScriptTypes } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';

const ROOT = new URL('../', import.meta.url).pathname;

/** `from './x.ts'`, `import './x.ts'`, `import('./x.ts')`: relative specifiers only. */
const RELATIVE_TS_IMPORT = /(\bfrom\s*|\bimport\s*\(\s*|\bimport\s+)(['"])(\.\.?\/[^'"\n]*)\.ts\2/g;
/** What must not survive the rewrite: any quoted relative path ending in .ts. */
const LEFTOVER = /(['"])\.\.?\/[^'"\n]*\.ts\1/;

export function buildFile(source: string, file: string): string {
  const js = stripTypeScriptTypes(source, { mode: 'strip' }).replace(RELATIVE_TS_IMPORT, '$1$2$3.js$2');
  const leftover = LEFTOVER.exec(js);
  if (leftover) throw new Error(`${file}: ${leftover[0]} is not an import this build rewrites`);
  return js;
}

export function build(srcDir: string, outDir: string): number {
  const started = new Date();
  const tmp = `${outDir}.tmp-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  let files = 0;
  for (const rel of readdirSync(srcDir, { recursive: true, encoding: 'utf8' }).sort()) {
    if (!rel.endsWith('.ts') || rel.endsWith('.d.ts')) continue;
    const target = join(tmp, rel.slice(0, -3) + '.js');
    mkdirSync(dirname(target), { recursive: true });
    writeFileSync(target, buildFile(readFileSync(join(srcDir, rel), 'utf8'), join(srcDir, rel)));
    files++;
  }
  // The stamp's mtime is the start of the build: a source saved during it is seen as newer.
  const stamp = join(tmp, '.built');
  writeFileSync(stamp, `${started.toISOString()}\n`);
  utimesSync(stamp, started, started);
  rmSync(outDir, { recursive: true, force: true });
  try {
    renameSync(tmp, outDir);
  } catch (err) {
    // Another build (a second launcher) swapped its identical tree in first.
    rmSync(tmp, { recursive: true, force: true });
    if ((err as NodeJS.ErrnoException).code !== 'ENOTEMPTY' && (err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  return files;
}

if (import.meta.main) {
  const { values } = parseArgs({ options: { src: { type: 'string' }, out: { type: 'string' } } });
  const src = resolve(values.src ?? join(ROOT, 'src'));
  const out = resolve(values.out ?? join(ROOT, 'dist'));
  const t0 = performance.now();
  const files = build(src, out);
  process.stderr.write(`built ${out} from ${src}: ${files} files in ${Math.round(performance.now() - t0)} ms\n`);
}
