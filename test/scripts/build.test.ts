/**
 * scripts/build.ts and bin/tollbooth, the way production starts: dist/ is src/ with the types
 * blanked out, line for line and column for column, its imports pointing at the built files; the
 * launcher rebuilds it only when a source is newer, and runs it with Tollbooth's Node flags, which a
 * NODE_OPTIONS of the operator's overrides.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, utimesSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';

const ROOT = new URL('../../', import.meta.url).pathname;
const NODE = join(ROOT, 'node_modules/.bin/node');

function tsFiles(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.ts')).sort();
}

describe('scripts/build.ts', () => {
  let out: string;
  before(() => {
    out = join(mkdtempSync(join(tmpdir(), 'tollbooth-build-')), 'dist');
    const run = spawnSync(NODE, ['--disable-warning=ExperimentalWarning', join(ROOT, 'scripts/build.ts'), '--out', out], { encoding: 'utf8' });
    assert.equal(run.status, 0, run.stderr);
  });
  after(() => rmSync(dirname(out), { recursive: true, force: true }));

  test('every module of src/ becomes one in dist/ with the same lines and columns, types blanked', () => {
    const sources = tsFiles(join(ROOT, 'src'));
    assert.ok(sources.length > 50);
    for (const file of sources) {
      const src = readFileSync(join(ROOT, 'src', file), 'utf8').split('\n');
      const js = readFileSync(join(out, file.replace(/\.ts$/, '.js')), 'utf8').split('\n');
      assert.equal(js.length, src.length, file);
      js.forEach((line, i) => {
        assert.equal(line.length, src[i]!.length, `${file}:${i + 1}`);
        // Each character is the source's, a blank where a type was (U+2002 for a 3-byte one, keeping
        // byte offsets too), or the js of a `.ts` specifier.
        const expected = src[i]!.replace(/(['"]\.\.?\/[^'"]*\.)ts(['"])/g, '$1js$2');
        for (let c = 0; c < line.length; c++) {
          if (line[c] !== expected[c] && !/\s/.test(line[c]!)) assert.fail(`${file}:${i + 1}:${c + 1}: '${line[c]}' is not the source's '${expected[c]}'`);
        }
      });
    }
    const built = readdirSync(out, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.js'));
    assert.equal(built.length, sources.length);
  });

  test('types are gone and relative imports name built files that exist', () => {
    const cli = readFileSync(join(out, 'cli.js'), 'utf8');
    assert.doesNotMatch(cli, /: Promise<number>/);
    let imports = 0;
    for (const file of readdirSync(out, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.js'))) {
      const text = readFileSync(join(out, file), 'utf8');
      for (const [, spec] of text.matchAll(/(?:\bfrom\s*|\bimport\s*\(\s*|\bimport\s+)['"](\.\.?\/[^'"]+)['"]/g)) {
        assert.match(spec!, /\.js$/, `${file} imports ${spec}`);
        assert.ok(existsSync(resolve(join(out, dirname(file)), spec!)), `${file} imports ${spec}`);
        imports++;
      }
    }
    assert.ok(imports > 200);
  });
});

describe('bin/tollbooth', () => {
  let app: string;
  const stamp = () => statSync(join(app, 'dist/.built')).mtimeMs;
  const tollbooth = (args: string[], env: Record<string, string> = {}) =>
    spawnSync(join(app, 'bin/tollbooth'), args, { cwd: app, encoding: 'utf8', env: { ...process.env, ...env } });

  before(() => {
    app = mkdtempSync(join(tmpdir(), 'tollbooth-launcher-'));
    for (const dir of ['src', 'bin', 'config']) cpSync(join(ROOT, dir), join(app, dir), { recursive: true });
    cpSync(join(ROOT, 'scripts/build.ts'), join(app, 'scripts/build.ts'));
    cpSync(join(ROOT, 'package.json'), join(app, 'package.json'));
    symlinkSync(join(ROOT, 'node_modules'), join(app, 'node_modules'));
  });
  after(() => rmSync(app, { recursive: true, force: true }));

  test('builds dist/ on first use, reuses it, rebuilds when a source is newer', () => {
    const first = tollbooth(['hash-key', 'abc']);
    assert.equal(first.status, 0, first.stderr);
    assert.equal(first.stdout, 'hash: sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad\n');
    assert.match(first.stderr, /built .*dist from .*src/);
    const built = stamp();

    const second = tollbooth(['hash-key', 'abc']);
    assert.equal(second.status, 0, second.stderr);
    assert.equal(second.stderr, '');
    assert.equal(stamp(), built);

    // As if a source were saved after the build: the stamp goes back instead, the source stays put.
    const earlier = new Date(built - 60_000);
    utimesSync(join(app, 'dist/.built'), earlier, earlier);
    const third = tollbooth(['hash-key', 'abc']);
    assert.equal(third.status, 0, third.stderr);
    assert.match(third.stderr, /built /);
    assert.ok(stamp() >= built);
  });

  test('runs Node with a 16 MiB semi-space, gc exposed and 2 malloc arenas; the operator\'s settings win', () => {
    // A module preloaded through NODE_OPTIONS reports the heap the process got.
    const probe = `--import=data:text/javascript,${encodeURIComponent(
      "import v8 from 'node:v8'; process.stderr.write(`HEAP ${v8.getHeapStatistics().heap_size_limit} ${typeof globalThis.gc} ${process.env.MALLOC_ARENA_MAX}\\n`);",
    )}`;
    const limit = (semi: number) =>
      Number(spawnSync(NODE, [`--max-semi-space-size=${semi}`, '-p', 'v8.getHeapStatistics().heap_size_limit'], { encoding: 'utf8' }).stdout);
    const heap = (env: Record<string, string>) => {
      const run = tollbooth(['hash-key', 'abc'], env);
      assert.equal(run.status, 0, run.stderr);
      return /HEAP (\d+) (\w+) (\w+)/.exec(run.stderr)!.slice(1);
    };
    assert.deepEqual(heap({ NODE_OPTIONS: probe }), [String(limit(16)), 'function', '2']);
    assert.deepEqual(heap({ NODE_OPTIONS: `--max-semi-space-size=4 ${probe}`, MALLOC_ARENA_MAX: '4' }), [String(limit(4)), 'function', '4']);
    assert.notEqual(limit(16), limit(4));
  });
});
