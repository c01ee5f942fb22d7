/**
 * Logs (issue 17, item 14): JSON lines when stdout is not a terminal, readable lines when it is
 * (TOLLBOOTH_LOG_FORMAT overrides), redaction before either format, and a start-up that warns in
 * one short line saying what to do.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, describe, test } from 'node:test';
import { parse, stringify } from 'yaml';
import { createLogger, logFormat, prettyLine } from '../../src/util/log.ts';

const ROOT = new URL('../../', import.meta.url).pathname;
const NODE = `${ROOT}node_modules/.bin/node`;

function capture() {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk, _enc, done) {
      lines.push(String(chunk));
      done();
    },
  });
  return { stream, lines };
}

describe('log format', () => {
  test('JSON unless stdout is a terminal; TOLLBOOTH_LOG_FORMAT decides either way', () => {
    assert.equal(logFormat({}, false), 'json');
    assert.equal(logFormat({}, true), 'pretty');
    assert.equal(logFormat({ TOLLBOOTH_LOG_FORMAT: 'json' }, true), 'json');
    assert.equal(logFormat({ TOLLBOOTH_LOG_FORMAT: 'pretty' }, false), 'pretty');
    assert.equal(logFormat({ TOLLBOOTH_LOG_FORMAT: 'xml' }, false), 'json', 'anything else: the default');
  });

  test('a readable line: time, level, message, then the fields; an error\'s stack below', () => {
    const line = JSON.stringify({ level: 40, time: '2026-12-07T09:04:29.994Z', service: 'tollbooth', provider: 'openai', path: '/a b', n: 3, msg: 'key missing' });
    assert.equal(prettyLine(line), '09:04:29.994 WARN  key missing  provider=openai path="/a b" n=3\n');
    const err = prettyLine(JSON.stringify({ level: 50, time: '2026-12-07T09:04:29.994Z', msg: 'boom', err: { message: 'x', stack: 'Error: x\n    at f (a.ts:1:1)' } }));
    assert.equal(err, '09:04:29.994 ERROR boom\n    Error: x\n        at f (a.ts:1:1)\n');
    assert.equal(prettyLine('not json\n'), 'not json\n');
    assert.match(prettyLine(line, { colors: true }), /\x1b\[33mWARN /);
  });

  test('redaction happens before the readable form', () => {
    const { stream, lines } = capture();
    const log = createLogger('info', stream, 'pretty');
    log.info({ headers: { authorization: 'Bearer sk-live-123' }, secret: 'sk-live-456' }, 'hello');
    assert.equal(lines.length, 1);
    assert.match(lines[0]!, /^\d\d:\d\d:\d\d\.\d{3} INFO  hello  /);
    assert.ok(!lines[0]!.includes('sk-live'), lines[0]);
    assert.match(lines[0]!, /\[redacted\]/);
  });
});

describe('the sidecar\'s start-up log', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tollbooth-log-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const config = parse(readFileSync(join(ROOT, 'config/tollbooth.yaml'), 'utf8'));
  config.listeners = { proxy: { host: '127.0.0.1', port: 0 }, ops: { host: '127.0.0.1', port: 0 } };
  config.catalog = join(ROOT, 'config/catalog');
  config.ledger = { ...config.ledger, dir: join(dir, 'data') };
  const file = join(dir, 'tollbooth.yaml');
  writeFileSync(file, stringify(config));
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/_API_KEY$|^BEDROCK_CREDENTIALS$|^TOLLBOOTH_/.test(k)));

  /** Starts `tollbooth serve`, returns its stdout once it listens, then stops it. */
  async function startUp(extraEnv: Record<string, string>): Promise<string> {
    const child = spawn(NODE, [join(ROOT, 'src/cli.ts'), 'serve', '--config', file], { env: { ...env, ...extraEnv }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    const deadline = Date.now() + 20_000;
    while (!/tollbooth listening/.test(out) && Date.now() < deadline && child.exitCode === null) await new Promise((r) => setTimeout(r, 50));
    child.kill('SIGTERM');
    await new Promise((r) => child.once('close', r));
    assert.match(out, /tollbooth listening/);
    return out;
  }

  test('piped (not a terminal): one JSON object per line; the missing-secrets warning is short and says what to set', async () => {
    const out = await startUp({});
    const entries = out.trim().split('\n').map((l) => JSON.parse(l));
    const warning = entries.find((e) => e.level === 40 && /no secret/.test(e.msg));
    assert.ok(warning, out);
    assert.ok(warning.msg.length < 200, warning.msg);
    assert.match(warning.msg, /^\d+ credential\(s\) have no secret, so their providers answer 503: provide env OPENAI_API_KEY, env ANTHROPIC_API_KEY, env GEMINI_API_KEY and \d+ more$/);
    assert.equal(warning.unavailable.openai, 'env OPENAI_API_KEY');
    assert.ok(JSON.stringify(warning).length < 1000, 'well under the 1.6 KB it was');
  });

  test('TOLLBOOTH_LOG_FORMAT=pretty: readable lines', async () => {
    const out = await startUp({ TOLLBOOTH_LOG_FORMAT: 'pretty' });
    const lines = out.trim().split('\n');
    for (const line of lines) assert.match(line, /^\d\d:\d\d:\d\d\.\d{3} (INFO |WARN |ERROR|DEBUG) \S/, line);
    assert.ok(lines.some((l) => /^\S+ WARN  \d+ credential\(s\) have no secret/.test(l)));
    assert.ok(!out.includes('\x1b['), 'no colours when stdout is not a terminal');
  });

  const script = spawnSync('script', ['--version'], { encoding: 'utf8' }).status === 0;
  test('on a real terminal (script(1) gives it one): readable lines by default', { skip: !script && 'script(1) is not installed' }, async () => {
    const cmd = `${NODE} ${join(ROOT, 'src/cli.ts')} serve --config ${file}`;
    // Its own process group, so the sidecar under script(1) stops with it.
    const child = spawn('script', ['-qfec', cmd, '/dev/null'], { env, stdio: ['pipe', 'pipe', 'pipe'], detached: true });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    const deadline = Date.now() + 20_000;
    while (!/tollbooth listening/.test(out) && Date.now() < deadline && child.exitCode === null) await new Promise((r) => setTimeout(r, 50));
    process.kill(-child.pid!, 'SIGTERM');
    await new Promise((r) => child.once('close', r));
    const plain = out.replace(/\x1b\[[0-9;]*m/g, '');
    assert.match(plain, /^\d\d:\d\d:\d\d\.\d{3} INFO  ledger: replayed/m);
    assert.match(plain, /\d\d:\d\d:\d\d\.\d{3} INFO  tollbooth listening  proxy=http/);
    assert.ok(!plain.includes('{"level"'), 'no JSON on a terminal');
  });
});
