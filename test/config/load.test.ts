/**
 * Config validation with broken files: every problem names the file, the line, the path and what
 * was expected; `tollbooth validate` exits non-zero with those lines.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { loadConfig } from '../../src/config/load.ts';
import { ConfigError } from '../../src/config/problems.ts';
import { CATALOG_DIR } from '../support/catalog.ts';

const NODE = new URL('../../node_modules/.bin/node', import.meta.url).pathname;
const CLI = new URL('../../src/cli.ts', import.meta.url).pathname;
const DEFAULT_CONFIG = new URL('../../config/tollbooth.yaml', import.meta.url).pathname;

const dirs: string[] = [];
after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

function writeConfig(yaml: string, catalog = CATALOG_DIR): string {
  const dir = mkdtempSync(join(tmpdir(), 'tollbooth-config-'));
  dirs.push(dir);
  const file = join(dir, 'tollbooth.yaml');
  writeFileSync(file, `catalog: ${catalog}\n${yaml}`);
  return file;
}

function problems(file: string): string[] {
  try {
    loadConfig(file);
  } catch (err) {
    if (err instanceof ConfigError) return err.message.split('\n');
    throw err;
  }
  assert.fail('expected the config to be rejected');
}

/** A copy of the real catalog with one models file added, for catalog-level breakage. */
function catalogWith(extraModels: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'tollbooth-catalog-'));
  dirs.push(dir);
  cpSync(CATALOG_DIR, dir, { recursive: true });
  writeFileSync(join(dir, 'models', 'zz-broken.yaml'), extraModels);
  return dir;
}

const model = (id: string, extra: string) => `  - { model_id: ${id}, name: ${id}, vendor: test, provider: openai, context_window: 1000, quality_score: 1, latency_score: 1, input_usd_per_1m: 1, output_usd_per_1m: 1, ${extra} }\n`;

describe('config validation', () => {
  test('the embedded default config is valid', () => {
    const { catalog } = loadConfig(DEFAULT_CONFIG);
    assert.equal(catalog.providers.size, 16);
    assert.ok([...catalog.models.values()].filter((m) => m.status === 'active' || m.status === 'preview').length >= 40);
  });

  test('a literal key in the YAML is rejected, pointing at its line', () => {
    const file = writeConfig(`credentials:\n  - id: openai\n    provider: openai\n    billing: managed\n    secret: sk-live-1234567890\n`);
    const [line] = problems(file);
    assert.match(line!, new RegExp(`^${file}:6:13 /credentials/0/secret: must reference a secret as \\{env: VAR_NAME\\} or \\{file: /path/to/secret\\}; literal keys are not allowed`));
  });

  test('unknown fields, wrong types and bad enums are each reported', () => {
    const file = writeConfig(`listeners:\n  proxy: { port: "four thousand" }\nauth:\n  mode: open\nkeys:\n  - { id: k, org: o, hash: abc }\ncolour: blue\n`);
    const lines = problems(file);
    assert.ok(lines.includes(`${file}:8:9 /colour: unknown field`), lines.join('\n'));
    assert.ok(lines.includes(`${file}:3:18 /listeners/proxy/port: must be integer`), lines.join('\n'));
    assert.ok(lines.some((l) => l.includes('/auth/mode: must be one of "keys", "none"')), lines.join('\n'));
    assert.ok(lines.some((l) => l.includes('/keys/0/hash: must be "sha256:" followed by 64 lower-case hex digits')), lines.join('\n'));
  });

  test('broken YAML is reported with its line', () => {
    const file = writeConfig(`orgs:\n  - id: a\n   name: b\n`);
    const [line] = problems(file);
    assert.match(line!, new RegExp(`^${file}:4:1: YAML syntax: Sequence item without - indicator`));
  });

  test('references between sections are checked', () => {
    const file = writeConfig(
      `orgs: [{ id: acme }]\nkeys: [{ id: k, org: nobody, hash: "sha256:${'a'.repeat(64)}" }]\n` +
        `credentials: [{ id: c, provider: nosuch, billing: managed, secret: { env: X } }, { id: vllm, provider: openai-compatible, billing: byok }]\n` +
        `routes:\n  gpt-5-nano:\n    deployments: [{ provider: openai, credential: missing }, { provider: groq }]\n  not-a-model:\n    deployments: [{ provider: openai }]\n`,
    );
    const text = problems(file).join('\n');
    assert.match(text, /\/keys\/0\/org: org 'nobody' is not declared under orgs/);
    assert.match(text, /\/credentials\/0\/provider: unknown provider 'nosuch'/);
    assert.match(text, /\/credentials\/1\/base_url: provider 'openai-compatible' has no public endpoint/);
    assert.match(text, /\/routes\/gpt-5-nano\/deployments\/0\/credential: unknown credential 'missing'/);
    assert.match(text, /\/routes\/gpt-5-nano\/deployments\/1: a deployment on 'groq' .* must name its upstream_model/);
    assert.match(text, /\/routes\/not-a-model: route for unknown model 'not-a-model'/);
  });

  test('a replacement cycle in the catalog is a validation error, not a runtime loop', () => {
    const catalog = catalogWith(`models:\n${model('loop-a', 'status: deprecated, replacement_id: loop-b')}${model('loop-b', 'status: deprecated, replacement_id: loop-a')}`);
    const text = problems(writeConfig('', catalog)).join('\n');
    assert.match(text, /zz-broken\.yaml:\d+:\d+ \/models\/0\/replacement_id: replacement chain is a cycle: loop-a → loop-b → loop-a/);
  });

  test('a replacement that does not exist, or a chain that ends retired, is rejected', () => {
    const catalog = catalogWith(
      `models:\n${model('gone-a', 'status: deprecated, replacement_id: nowhere')}${model('gone-b', 'status: deprecated, replacement_id: gone-c')}${model('gone-c', 'status: retired')}`,
    );
    const text = problems(writeConfig('', catalog)).join('\n');
    assert.match(text, /replacement_id 'nowhere' is not a model in the catalog/);
    assert.match(text, /'gone-b' is deprecated and its replacement cannot be resolved: it ends at the retired model 'gone-c'/);
  });

  test('prices with more than 6 decimals are refused (credits stay exact)', () => {
    const catalog = catalogWith(`models:\n${model('too-precise', 'status: active').replace('input_usd_per_1m: 1', 'input_usd_per_1m: 0.0000001')}`);
    assert.match(problems(writeConfig('', catalog)).join('\n'), /input_usd_per_1m: a price in USD per 1M tokens is a number ≥ 0 with at most 6 decimals/);
  });

  test('price sets are checked where they are written: tiers, dated changes, units', () => {
    const bad = model('badly-priced', 'status: active').replace(
      ' }\n',
      ', service_tiers: { flex: { input_usd_per_1m: 1 } }, unit_prices: { pixels: 1 }, price_changes: [{ effective_from: "soon", input_usd_per_1m: 1, output_usd_per_1m: 1, context_tiers: [{ above_input_tokens: -1, input_usd_per_1m: 1, output_usd_per_1m: 1 }] }] }\n',
    );
    const text = problems(writeConfig('', catalogWith(`models:\n${bad}`))).join('\n');
    assert.match(text, /\/models\/0\/service_tiers\/flex: missing required field "output_usd_per_1m"/);
    assert.match(text, /\/models\/0\/unit_prices: a unit is image, image:<size>:<quality>, audio_second/);
    assert.match(text, /\/models\/0\/price_changes\/0\/effective_from: must be a UTC date YYYY-MM-DD/);
    assert.match(text, /\/models\/0\/price_changes\/0\/context_tiers\/0\/above_input_tokens: must be >= 0/);
    const twice = model('twice-changed', 'status: active').replace(
      ' }\n',
      ', price_changes: [{ effective_from: "2027-01-01", input_usd_per_1m: 2, output_usd_per_1m: 2 }, { effective_from: "2027-01-01", input_usd_per_1m: 3, output_usd_per_1m: 3 }] }\n',
    );
    assert.match(problems(writeConfig('', catalogWith(`models:\n${twice}`))).join('\n'), /prices: price_changes\[1\]\.effective_from: price changes are listed in time order/);
  });

  test('`tollbooth validate` exits 1 with readable problems, 0 on a good file', () => {
    const bad = writeConfig(`credentials:\n  - { id: x, provider: openai, billing: managed, secret: "sk-abc" }\n`);
    const failed = spawnSync(NODE, [CLI, 'validate', bad], { encoding: 'utf8' });
    assert.equal(failed.status, 1);
    assert.match(failed.stderr, /1 problem\(s\):/);
    assert.match(failed.stderr, /\/credentials\/0\/secret: must reference a secret/);
    const ok = spawnSync(NODE, [CLI, 'validate', DEFAULT_CONFIG], { encoding: 'utf8' });
    assert.equal(ok.status, 0, ok.stderr);
    assert.match(ok.stdout, /^ok: \d+ files, 16 providers, \d+ models/);
    assert.ok(readFileSync(DEFAULT_CONFIG, 'utf8').includes('tb-local-dev-key'), 'the README’s dev key is the one documented in the default config');
  });
});
