/**
 * Standing test: a real gateway process under load, killed with SIGKILL several times. Every
 * request the client saw answered has exactly one charge in the ledger after the restart (matched
 * by x-request-id), and `tollbooth ledger verify` passes. The commit window is the longest the
 * config allows, so an answer that went out before its charge was written would be caught.
 * Bounded: a fixed number of kills, each after a fixed number of answers; no sleeps.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import OpenAI from 'openai';
import { stringify } from 'yaml';
import { CATALOG_DIR } from '../support/catalog.ts';
import { FakeUpstream } from '../support/fake-upstream.ts';
import { fixtureJson } from '../support/fixtures.ts';
import { ledgerCharges } from '../support/gateway.ts';

const CLI = new URL('../../src/cli.ts', import.meta.url).pathname;
const KEY = 'tb-kill-test-key';
const KILLS = 3;
/** Answers the client must have seen before each kill. */
const ANSWERS_PER_ROUND = 150;
const CONCURRENCY = 12;

interface Child {
  process: ChildProcess;
  proxyUrl: string;
  exited: Promise<unknown>;
}

describe('kill -9 under load', () => {
  let upstream: FakeUpstream;
  let dir: string;
  let configFile: string;

  before(async () => {
    upstream = await FakeUpstream.start();
    upstream.on('POST', '/v1/chat/completions', { json: fixtureJson('openai/openai-text.json') });
    dir = mkdtempSync(join(tmpdir(), 'tollbooth-kill-'));
    configFile = join(dir, 'tollbooth.yaml');
    writeFileSync(
      configFile,
      stringify({
        listeners: { proxy: { host: '127.0.0.1', port: 0 }, ops: { host: '127.0.0.1', port: 0 } },
        catalog: CATALOG_DIR,
        ledger: { dir: join(dir, 'data'), commit_window_ms: 100 },
        orgs: [{ id: 'acme', name: 'Acme' }],
        keys: [{ id: 'acme-app', org: 'acme', role: 'member', hash: `sha256:${createHash('sha256').update(KEY).digest('hex')}` }],
        credentials: [{ id: 'openai', provider: 'openai', billing: 'managed', secret: { env: 'TB_KILL_OPENAI_KEY' }, base_url: `${upstream.url}/v1` }],
        watch: { enabled: false },
        log: { level: 'info' },
      }),
    );
  });
  after(async () => {
    await upstream.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** Starts `tollbooth serve` and resolves once it logs that it listens. */
  async function start(): Promise<Child> {
    const child = spawn(process.execPath, [CLI, 'serve', '--config', configFile], {
      env: { ...process.env, TB_KILL_OPENAI_KEY: 'upstream-key' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const exited = once(child, 'exit');
    let stderr = '';
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const proxyUrl = await new Promise<string>((resolve, reject) => {
      let out = '';
      const onData = (chunk: Buffer) => {
        out += chunk.toString();
        for (const line of out.split('\n')) {
          if (!line.includes('tollbooth listening')) continue;
          child.stdout!.off('data', onData);
          child.stdout!.resume();
          resolve((JSON.parse(line) as { proxy: string }).proxy);
          return;
        }
      };
      child.stdout!.on('data', onData);
      void exited.then(([code]) => reject(new Error(`the gateway exited (${code}) before listening: ${stderr.slice(-2000)}`)));
    });
    return { process: child, proxyUrl, exited };
  }

  /** Load until `answers` more answers were seen, then SIGKILL; returns the request ids answered. */
  async function loadAndKill(child: Child, answers: number): Promise<string[]> {
    const client = new OpenAI({ apiKey: KEY, baseURL: `${child.proxyUrl}/v1`, maxRetries: 0 });
    const answered: string[] = [];
    let killed = false;
    const worker = async () => {
      while (!killed) {
        try {
          const { data, response } = await client.chat.completions.create({ model: 'gpt-6-luna', messages: [{ role: 'user', content: 'Hi' }] }).withResponse();
          assert.equal(data.object, 'chat.completion');
          answered.push(response.headers.get('x-request-id')!);
          if (answered.length >= answers && !killed) {
            killed = true;
            child.process.kill('SIGKILL');
          }
        } catch (err) {
          // Cut by the kill: not answered, so owed nothing. Anything else is a failure.
          if (!killed) throw err;
        }
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
    await child.exited;
    return answered;
  }

  test('every answered request has exactly one charge after restart, and the chain verifies', { timeout: 180_000 }, async () => {
    const answered: string[] = [];
    for (let i = 0; i < KILLS; i++) {
      const child = await start();
      answered.push(...(await loadAndKill(child, ANSWERS_PER_ROUND)));
      assert.equal(child.process.signalCode, 'SIGKILL');
    }
    // The restart replays the ledger (setting aside any torn last line); then a clean stop.
    const last = await start();
    last.process.kill('SIGTERM');
    await last.exited;

    const verify = spawnSync(process.execPath, [CLI, 'ledger', 'verify', '--dir', join(dir, 'data')], { encoding: 'utf8' });
    assert.equal(verify.status, 0, verify.stdout + verify.stderr);

    const charges = new Map<string, number>();
    for (const r of ledgerCharges(join(dir, 'data'))) charges.set(r.request_id, (charges.get(r.request_id) ?? 0) + 1);
    const missing = answered.filter((id) => charges.get(id) !== 1);
    assert.equal(answered.length >= KILLS * ANSWERS_PER_ROUND, true);
    assert.deepEqual(missing, [], `${missing.length} of ${answered.length} answered requests lack exactly one charge`);
    assert.ok([...charges.values()].every((n) => n === 1), 'no request is charged twice');
  });
});
