/**
 * The container image, checked without a Docker engine: the Dockerfile read line by line (every
 * COPY source exists and survives .dockerignore, non-root, no HEALTHCHECK, the chart runs what the
 * image runs), and the image's /app laid out for real in a temp dir: the production dependency set
 * (`npm ci --omit=dev`), dist/ built from src/ as the build stage does, bin/ and config/, and no
 * src/. The sidecar starts from it through bin/tollbooth, as the ENTRYPOINT does, and serves.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { after, before, describe, test } from 'node:test';
import { parse as parseYaml } from 'yaml';

const ROOT = new URL('../../', import.meta.url).pathname;
const NODE = join(ROOT, 'node_modules/.bin/node');
const dockerfile = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));

/** Instructions with continuation lines joined and comments dropped. */
const instructions = dockerfile
  .replace(/\\\n/g, ' ')
  .split('\n')
  .map((l) => l.trim())
  .filter((l) => l && !l.startsWith('#'))
  .map((l) => {
    const [op, ...rest] = l.split(/\s+/);
    return { op: op!.toUpperCase(), args: rest.join(' ') };
  });
const lastStage = instructions.slice(instructions.findLastIndex((i) => i.op === 'FROM'));

/** The .dockerignore rules, applied the way Docker does for the simple patterns used here. */
function ignored(path: string): boolean {
  let out = false;
  for (const raw of readFileSync(join(ROOT, '.dockerignore'), 'utf8').split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const negate = line.startsWith('!');
    const pattern = (negate ? line.slice(1) : line).replace(/\/$/, '');
    const re = new RegExp(`^${pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*')}(/.*)?$`);
    if (re.test(path)) out = !negate;
  }
  return out;
}

describe('Dockerfile', () => {
  test('builds on Node 24 and installs production dependencies only', () => {
    const arg = instructions.find((i) => i.op === 'ARG' && i.args.startsWith('NODE_IMAGE='));
    assert.match(arg?.args ?? '', /^NODE_IMAGE=node:24[.-]/);
    for (const from of instructions.filter((i) => i.op === 'FROM')) assert.match(from.args, /^\$\{NODE_IMAGE\}/);
    const npm = instructions.filter((i) => i.op === 'RUN' && i.args.includes('npm '));
    assert.equal(npm.length, 1);
    assert.match(npm[0]!.args, /npm ci --omit=dev/);
  });

  test('every COPY source exists in the build context and is not ignored; nothing else is copied', () => {
    const copies = instructions.filter((i) => i.op === 'COPY' && !i.args.startsWith('--from'));
    const sources = copies.flatMap((c) => c.args.split(/\s+/).slice(0, -1));
    assert.deepEqual(
      [...sources].sort(),
      ['package.json', 'package-lock.json', 'package.json', 'scripts/build.ts', 'src', 'package.json', 'package-lock.json', 'bin', 'config'].sort(),
    );
    for (const source of sources) {
      assert.ok(existsSync(join(ROOT, source)), `${source} exists`);
      assert.ok(!ignored(source), `${source} is not excluded by .dockerignore`);
    }
    for (const excluded of ['node_modules', 'dist', 'test', 'bench', 'charts', 'examples', '.git', 'data', 'config/catalog/PRICES.md', 'scripts/other.ts']) {
      assert.ok(ignored(excluded), `${excluded} stays out of the build context`);
    }
    assert.ok(!ignored('src/cli.ts') && !ignored('bin/tollbooth') && !ignored('config/catalog/models/openai.yaml'));
  });

  test('the final stage holds dist/ from the build stage, not src/', () => {
    const build = instructions.slice(
      instructions.findIndex((i) => i.op === 'FROM' && /\bAS build$/i.test(i.args)),
      instructions.findLastIndex((i) => i.op === 'FROM'),
    );
    assert.ok(build.some((i) => i.op === 'RUN' && /^node .*scripts\/build\.ts$/.test(i.args)), 'the build stage runs scripts/build.ts');
    const copies = lastStage.filter((i) => i.op === 'COPY').map((i) => i.args);
    assert.ok(copies.includes('--from=build /app/dist ./dist'));
    assert.ok(!copies.some((c) => /^src\b/.test(c)), 'no sources in the final image');
  });

  test('runs as a non-root user, exposes the proxy and ops ports, and has no HEALTHCHECK', () => {
    const user = lastStage.findLast((i) => i.op === 'USER');
    assert.match(user?.args ?? '', /^[1-9]\d*:[1-9]\d*$/, 'a numeric non-root uid:gid (runAsNonRoot can verify it)');
    const expose = lastStage.find((i) => i.op === 'EXPOSE');
    assert.deepEqual(expose?.args.split(/\s+/), ['4000', '4001']);
    assert.equal(instructions.filter((i) => i.op === 'HEALTHCHECK').length, 0);
    const chartValues = parseYaml(readFileSync(join(ROOT, 'charts/tollbooth/values.yaml'), 'utf8'));
    assert.equal(String(chartValues.securityContext.runAsUser), user!.args.split(':')[0], 'the chart runs the same uid');
  });

  test('runs `bin/tollbooth serve --config /etc/tollbooth/tollbooth.yaml`, the args the chart gives', () => {
    const entrypoint = JSON.parse(lastStage.find((i) => i.op === 'ENTRYPOINT')!.args);
    const cmd = JSON.parse(lastStage.find((i) => i.op === 'CMD')!.args);
    assert.deepEqual([...entrypoint, ...cmd], ['/app/bin/tollbooth', 'serve', '--config', '/etc/tollbooth/tollbooth.yaml']);
    assert.equal(pkg.scripts.start, 'bin/tollbooth serve', '`npm start` starts it the same way');
    const helpers = readFileSync(join(ROOT, 'charts/tollbooth/templates/_helpers.tpl'), 'utf8');
    assert.ok(helpers.includes(`args: [${cmd.join(', ')}]`), 'the chart passes the same args');
  });
});

describe('the image\'s /app: production dependencies (npm ci --omit=dev), dist/, bin/, config/', () => {
  let dir: string;
  // The image's `node` is Node 24 on PATH (no node_modules/.bin/node there): so is it here.
  const env = { ...process.env, PATH: `${dirname(realpathSync(NODE))}:${process.env.PATH}` };
  const tollbooth = (args: string[]) => [join(dir, 'bin/tollbooth'), args] as const;

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'tollbooth-image-'));
    for (const f of ['package.json', 'package-lock.json']) cpSync(join(ROOT, f), join(dir, f));
    // Copies, not links: Node resolves imports from a file's real path, which must be this dir.
    cpSync(join(ROOT, 'config'), join(dir, 'config'), { recursive: true });
    cpSync(join(ROOT, 'bin'), join(dir, 'bin'), { recursive: true });
    const build = spawnSync(NODE, ['--disable-warning=ExperimentalWarning', join(ROOT, 'scripts/build.ts'), '--src', join(ROOT, 'src'), '--out', join(dir, 'dist')], { encoding: 'utf8' });
    assert.equal(build.status, 0, build.stderr);
    const npm = spawnSync('npm', ['ci', '--omit=dev', '--ignore-scripts', '--no-audit', '--no-fund', '--prefer-offline'], {
      cwd: dir,
      encoding: 'utf8',
      timeout: 120_000,
    });
    assert.equal(npm.status, 0, npm.stderr);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('holds no devDependency (no second Node, no TypeScript, no SDKs)', () => {
    // A devDependency that a production dependency also requires (the lock says so: no `dev` flag)
    // is rightly installed; every other one must be absent.
    const lock = JSON.parse(readFileSync(new URL('../../package-lock.json', import.meta.url), 'utf8'));
    for (const dev of Object.keys(pkg.devDependencies)) {
      if (lock.packages[`node_modules/${dev}`]?.dev !== true) continue;
      assert.ok(!existsSync(join(dir, 'node_modules', dev)), `${dev} is not installed`);
    }
    assert.ok(!existsSync(join(dir, 'node_modules', 'typescript')), 'no TypeScript');
    assert.ok(!existsSync(join(dir, 'node_modules', 'node')), 'no second Node');
    for (const dep of Object.keys(pkg.dependencies)) assert.ok(existsSync(join(dir, 'node_modules', dep)), `${dep} is installed`);
  });

  test('validates the embedded config', () => {
    assert.ok(!existsSync(join(dir, 'src')));
    const run = spawnSync(...tollbooth(['validate', 'config/tollbooth.yaml']), { cwd: dir, encoding: 'utf8', env });
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stdout, /^ok: \d+ files, \d+ providers, \d+ models/);
  });

  test('starts the sidecar, which answers /readyz and /metrics, then drains on SIGTERM', async () => {
    const config = parseYaml(readFileSync(join(dir, 'config/tollbooth.yaml'), 'utf8'));
    config.listeners = { proxy: { host: '127.0.0.1', port: 0 }, ops: { host: '127.0.0.1', port: 0 } };
    config.ledger = { dir: join(dir, 'ledger') };
    writeFileSync(join(dir, 'config/image-test.yaml'), JSON.stringify(config));
    const child = spawn(...tollbooth(['serve', '--config', 'config/image-test.yaml']), { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'], env });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    try {
      const listening = await new Promise<{ ops: string; proxy: string }>((resolve, reject) => {
        createInterface({ input: child.stdout }).on('line', (line) => {
          const entry = JSON.parse(line);
          if (entry.msg === 'tollbooth listening') resolve(entry);
        });
        child.on('exit', (code) => reject(new Error(`exited ${code}: ${stderr}`)));
      });
      const ready = await fetch(`${listening.ops}/readyz`);
      assert.equal(ready.status, 200);
      const metrics = await (await fetch(`${listening.ops}/metrics`)).text();
      assert.match(metrics, /^# TYPE gen_ai_client_operation_duration_seconds histogram$/m);
      // The start-up garbage was collected and the young generation given back (32 MiB when not).
      const newSpace = /^nodejs_heap_space_size_total_bytes\{space="new"\} (\d+)$/m.exec(metrics);
      assert.ok(newSpace && Number(newSpace[1]) <= 4 * 2 ** 20, `new space after start-up: ${newSpace?.[1]} bytes`);
      const models = await fetch(`${listening.proxy}/v1/models`, { headers: { authorization: 'Bearer tb-local-dev-key' } });
      assert.equal(models.status, 200);
    } finally {
      child.kill('SIGTERM');
    }
    const code = await new Promise((resolve) => child.on('exit', resolve));
    assert.equal(code, 0, stderr);
  });
});
