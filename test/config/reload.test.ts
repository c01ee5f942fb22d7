/**
 * GitOps hot reload through the real sidecar: the config and its catalog mounted the way a
 * ConfigMap is (updated by the kubelet's `..data` swap), a valid change taking effect for new
 * requests while a request in flight finishes under the config it started with, an invalid change
 * leaving the last good config serving, and SIGHUP doing the same on demand.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { request } from 'node:http';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import OpenAI from 'openai';
import { stringify } from 'yaml';
import { startGateway, type Gateway } from '../../src/gateway.ts';
import { createLogger } from '../../src/util/log.ts';
import { CATALOG_DIR } from '../support/catalog.ts';
import { FakeUpstream } from '../support/fake-upstream.ts';
import { fixtureJson } from '../support/fixtures.ts';
import { KubeletVolume } from '../support/kubelet-volume.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const sha = (key: string) => `sha256:${createHash('sha256').update(key).digest('hex')}`;
const APP_KEY = 'tb-reload-app-key';
const NEW_APP_KEY = 'tb-reload-second-app-key';
const PROVIDER_KEY = `sk-reload-${randomBytes(8).toString('hex')}`;
const RECORDED = fixtureJson('openai/openai-text.json');
const EXPECTED_TEXT: string = RECORDED.choices[0].message.content;

const CATALOG_FILES = {
  'catalog/providers.yaml': readFileSync(join(CATALOG_DIR, 'providers.yaml'), 'utf8'),
  'catalog/models/openai.yaml': readFileSync(join(CATALOG_DIR, 'models', 'openai.yaml'), 'utf8'),
};

async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

function metricValue(text: string, name: string, labels: Record<string, string> = {}): number {
  const wanted = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  const line = text.split('\n').find((l) => (l.startsWith(`${name}{`) || l.startsWith(`${name} `)) && wanted.every((w) => l.includes(w)));
  return line ? Number(line.slice(line.lastIndexOf(' ') + 1)) : 0;
}

interface Setup {
  fake: FakeUpstream;
  dir: string;
  ledger: string;
}

function config(s: Setup, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    listeners: { proxy: { host: '127.0.0.1', port: 0 }, ops: { host: '127.0.0.1', port: 0 } },
    catalog: './catalog',
    ledger: { dir: s.ledger },
    orgs: [{ id: 'acme', name: 'Acme' }],
    keys: [{ id: 'acme-app', org: 'acme', role: 'member', hash: sha(APP_KEY) }],
    credentials: [{ id: 'openai', provider: 'openai', billing: 'managed', secret: { env: 'TB_RELOAD_OPENAI_KEY' }, base_url: `${s.fake.url}/v1` }],
    watch: { debounce_ms: 20, poll_interval_ms: 200 },
    log: { level: 'info' },
    ...overrides,
  };
}

describe('config hot reload from a mounted ConfigMap', () => {
  const s = {} as Setup;
  let volume: KubeletVolume;
  let gw: Gateway;
  const logs = new PassThrough();
  const logLines: string[] = [];
  logs.on('data', (chunk: Buffer) => logLines.push(...chunk.toString('utf8').split('\n').filter(Boolean)));
  const client = (key = APP_KEY) => new OpenAI({ apiKey: key, baseURL: `${gw.proxyUrl}/v1`, maxRetries: 0 });
  const reloads = async (result: string) => metricValue(await (await fetch(`${gw.opsUrl}/metrics`)).text(), 'tollbooth_config_reloads_total', { result });
  const publish = (cfg: Record<string, unknown> | string, extra: Record<string, string> = {}) =>
    volume.update({ 'tollbooth.yaml': typeof cfg === 'string' ? cfg : stringify(cfg), ...CATALOG_FILES, ...extra });

  before(async () => {
    s.fake = await FakeUpstream.start();
    s.fake.on('POST', /\/chat\/completions$/, { json: RECORDED });
    s.dir = mkdtempSync(join(tmpdir(), 'tollbooth-reload-'));
    s.ledger = join(s.dir, 'data');
    volume = new KubeletVolume(join(s.dir, 'config'), { 'tollbooth.yaml': stringify(config(s)), ...CATALOG_FILES });
    gw = await startGateway(volume.path('tollbooth.yaml'), { env: { TB_RELOAD_OPENAI_KEY: PROVIDER_KEY }, logger: createLogger('info', logs) });
  });
  after(async () => {
    await gw.close(1000);
    await s.fake.close();
    rmSync(s.dir, { recursive: true, force: true });
  });

  test('a valid change (a caller key, a catalog model file) takes effect for new requests', async () => {
    await assert.rejects(client(NEW_APP_KEY).models.list(), (err: { status?: number }) => err.status === 401);
    const extraModel = stringify({
      models: [
        {
          model_id: 'reload-test-model', name: 'Added by a reload', vendor: 'openai', provider: 'openai', upstream_model: 'gpt-4.1-nano',
          context_window: 1000, quality_score: 50, latency_score: 50, input_usd_per_1m: 1, output_usd_per_1m: 2, status: 'active',
        },
      ],
    });
    publish(
      config(s, { keys: [{ id: 'acme-app', org: 'acme', role: 'member', hash: sha(APP_KEY) }, { id: 'acme-second', org: 'acme', role: 'member', hash: sha(NEW_APP_KEY) }] }),
      { 'catalog/models/zz-extra.yaml': extraModel },
    );
    await until('the reload', async () => (await reloads('success')) === 1);
    const models = await client(NEW_APP_KEY).models.list();
    assert.ok(models.data.some((m) => m.id === 'reload-test-model'), 'the new catalog file was read');
    const answer = await client(NEW_APP_KEY).chat.completions.create({ model: 'reload-test-model', messages: [{ role: 'user', content: 'hi' }] });
    assert.equal(answer.choices[0]?.message.content, EXPECTED_TEXT);
    assert.equal(s.fake.last().json().model, 'gpt-4.1-nano');
  });

  test('a request in flight finishes under the config it started with; the next one sees the new config', async () => {
    s.fake.reset();
    s.fake.on('POST', '/v1/chat/completions', { json: RECORDED }).on('POST', '/v2/chat/completions', { json: RECORDED });
    const url = new URL(gw.proxyUrl);
    const body = JSON.stringify({ model: 'gpt-4.1-nano', messages: [{ role: 'user', content: 'started before the reload' }] });
    const slow = request({
      host: url.hostname,
      port: url.port,
      method: 'POST',
      path: '/v1/chat/completions',
      headers: { authorization: `Bearer ${APP_KEY}`, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
    });
    const answered = once(slow, 'response');
    slow.write(body.slice(0, 5));
    await sleep(50);

    const moved = config(s, { credentials: [{ id: 'openai', provider: 'openai', billing: 'managed', secret: { env: 'TB_RELOAD_OPENAI_KEY' }, base_url: `${s.fake.url}/v2` }] });
    publish(moved);
    await until('the reload', async () => (await reloads('success')) === 2);
    await client().chat.completions.create({ model: 'gpt-4.1-nano', messages: [{ role: 'user', content: 'started after the reload' }] });
    slow.end(body.slice(5));
    const [res] = (await answered) as [import('node:http').IncomingMessage];
    res.resume();
    await once(res, 'end');
    assert.equal(res.statusCode, 200);
    const pathOf = (content: string) => s.fake.requests.find((r) => r.json().messages[0].content === content)?.path;
    assert.equal(pathOf('started before the reload'), '/v1/chat/completions', 'the in-flight request kept the old config');
    assert.equal(pathOf('started after the reload'), '/v2/chat/completions', 'a new request took the new config at once');
  });

  test('an invalid config keeps the last good one serving, with the problems logged and counted', async () => {
    const literal = `sk-literal-${randomBytes(8).toString('hex')}`;
    const broken = stringify(config(s, { credentials: [{ id: 'openai', provider: 'openai', billing: 'managed', secret: literal, base_url: `${s.fake.url}/v3` }] }));
    publish(broken);
    await until('the failed reload', async () => (await reloads('failure')) === 1);
    const failure = logLines.map((l) => JSON.parse(l)).find((l) => String(l.msg).startsWith('config reload failed'));
    assert.ok(failure, 'a log line');
    assert.ok(failure.problems.some((p: string) => /tollbooth\.yaml:\d+:\d+ \/credentials\/0\/secret: must reference a secret/.test(p)), JSON.stringify(failure.problems));
    assert.ok(!logLines.some((l) => l.includes(literal)), 'the literal key is not echoed into the logs');

    s.fake.reset();
    s.fake.on('POST', /\/chat\/completions$/, { json: RECORDED });
    const answer = await client().chat.completions.create({ model: 'gpt-4.1-nano', messages: [{ role: 'user', content: 'after a bad reload' }] });
    assert.equal(answer.choices[0]?.message.content, EXPECTED_TEXT);
    assert.equal(s.fake.last().path, '/v2/chat/completions', 'still the last good config');
    assert.equal(s.fake.last().headers.authorization, `Bearer ${PROVIDER_KEY}`);

    // A YAML syntax error is refused the same way.
    publish('listeners: [unclosed\n');
    await until('the second failed reload', async () => (await reloads('failure')) === 2);
    await client().chat.completions.create({ model: 'gpt-4.1-nano', messages: [{ role: 'user', content: 'still serving' }] });
    assert.equal(s.fake.last().path, '/v2/chat/completions');

    // The fix is picked up.
    publish(config(s));
    await until('the good reload', async () => (await reloads('success')) === 3);
    await client().chat.completions.create({ model: 'gpt-4.1-nano', messages: [{ role: 'user', content: 'fixed' }] });
    assert.equal(s.fake.last().path, '/v1/chat/completions');
  });

  test('listener changes are reported as needing a restart, the rest applies', async () => {
    publish(config(s, { listeners: { proxy: { host: '127.0.0.1', port: 0 }, ops: { host: '127.0.0.1', port: 65001 } } }));
    await until('the reload', async () => (await reloads('success')) === 4);
    const warning = logLines.map((l) => JSON.parse(l)).find((l) => String(l.msg).includes('only after a restart'));
    assert.deepEqual(warning?.settings, ['listeners']);
    assert.equal((await fetch(`${gw.opsUrl}/healthz`)).status, 200, 'the ops listener stays where it was');
  });

  test('the reload function SIGHUP calls works with file watching off', async () => {
    publish(config(s, { watch: { enabled: false, debounce_ms: 20, poll_interval_ms: 100 } }));
    await until('the reload that turns watching off', async () => (await reloads('success')) === 5);
    publish(config(s, { watch: { enabled: false, debounce_ms: 20, poll_interval_ms: 100 }, keys: [{ id: 'acme-second', org: 'acme', role: 'member', hash: sha(NEW_APP_KEY) }] }));
    await sleep(400);
    assert.equal(await reloads('success'), 5, 'no watch, no reload');
    await client(APP_KEY).models.list();
    const result = await gw.reload('SIGHUP');
    assert.equal(result.ok, true);
    assert.equal(await reloads('success'), 6);
    await assert.rejects(client(APP_KEY).models.list(), (err: { status?: number }) => err.status === 401);
    await client(NEW_APP_KEY).models.list();
  });
});

describe('SIGHUP to a running `tollbooth serve`', () => {
  test('reloads the config file', async () => {
    const fake = await FakeUpstream.start();
    const dir = mkdtempSync(join(tmpdir(), 'tollbooth-sighup-'));
    const s = { fake, dir, ledger: join(dir, 'data') };
    const file = join(dir, 'tollbooth.yaml');
    const watchOff = { watch: { enabled: false, debounce_ms: 20, poll_interval_ms: 1000 }, catalog: CATALOG_DIR, log: { level: 'info' } };
    writeFileSync(file, stringify(config(s, watchOff)));
    const child = spawn(process.execPath, ['src/cli.ts', 'serve', '--config', file], {
      cwd: new URL('../..', import.meta.url).pathname,
      env: { ...process.env, TB_RELOAD_OPENAI_KEY: PROVIDER_KEY },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    try {
      const lines: any[] = [];
      child.stdout.on('data', (chunk: Buffer) => lines.push(...chunk.toString('utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l))));
      await until('the sidecar to listen', () => lines.some((l) => l.msg === 'tollbooth listening'), 15_000);
      const { proxy, ops } = lines.find((l) => l.msg === 'tollbooth listening');
      const models = (key: string) => fetch(`${proxy}/v1/models`, { headers: { authorization: `Bearer ${key}` } });
      assert.equal((await models(NEW_APP_KEY)).status, 401);
      writeFileSync(file, stringify(config(s, { ...watchOff, keys: [{ id: 'acme-second', org: 'acme', role: 'member', hash: sha(NEW_APP_KEY) }] })));
      child.kill('SIGHUP');
      await until('the reload', async () => metricValue(await (await fetch(`${ops}/metrics`)).text(), 'tollbooth_config_reloads_total', { result: 'success' }) === 1);
      assert.equal((await models(NEW_APP_KEY)).status, 200);
      assert.equal((await models(APP_KEY)).status, 401);
      // Log lines leave in batches (util/log-destination.ts): the line follows the metric by up to 50 ms.
      await until('the reload log line', () => lines.some((l) => l.msg === 'config reloaded' && l.trigger === 'SIGHUP'), 15_000);
    } finally {
      child.kill('SIGTERM');
      await once(child, 'exit');
      await fake.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
