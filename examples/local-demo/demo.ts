/**
 * `npm run demo`: Tollbooth end to end on one machine, in a few seconds, with no provider account.
 *
 * 1. A fake OpenAI on 127.0.0.1 replays a real recorded answer (test/fixtures/providers/openai).
 * 2. The sidecar starts (`node src/cli.ts serve`) with tollbooth.yaml beside this file, pointed at it.
 * 3. The official openai SDK sends a chat completion, a streamed one and a native passthrough call.
 * 4. The demo prints the answers, what the provider saw, the usage and credits the ledger recorded
 *    and the metrics, then stops everything.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import OpenAI from 'openai';
import { parse, stringify } from 'yaml';
import type { ChargeEntry } from '../../src/metering/ledger/entry.ts';
import { walkChain } from '../../src/metering/ledger/chain.ts';
import { FakeUpstream } from '../../test/support/fake-upstream.ts';
import { chunkLines, fixtureJson, sseFrames } from '../../test/support/fixtures.ts';

const HERE = new URL('./', import.meta.url).pathname;
const ROOT = new URL('../../', import.meta.url).pathname;
const APP_KEY = 'tb-demo-key';
const PROVIDER_KEY = 'sk-demo-provider-key-held-by-the-sidecar';
const MODEL = 'gpt-4.1-nano';

const say = (line = '') => process.stdout.write(`${line}\n`);
const clip = (text: string, n = 100) => JSON.stringify(text.length > n ? `${text.slice(0, n)}…` : text);

// 1. The fake provider: answers like OpenAI did when this was recorded, and refuses any other key.
const provider = await FakeUpstream.start();
provider.on('POST', '/v1/chat/completions', (req) => {
  if (req.headers.authorization !== `Bearer ${PROVIDER_KEY}`) return { status: 401, json: { error: { message: 'Incorrect API key provided' } } };
  return req.json().stream
    ? { frames: sseFrames(chunkLines('openai/openai-text.chunks.txt'), { done: true }) }
    : { json: fixtureJson('openai/openai-text.json') };
});
say(`▶ fake OpenAI on ${provider.url}, replaying test/fixtures/providers/openai/openai-text.{json,chunks.txt}`);

// 2. The sidecar, with the demo config made concrete for this run.
const work = mkdtempSync(join(tmpdir(), 'tollbooth-demo-'));
const config = parse(readFileSync(join(HERE, 'tollbooth.yaml'), 'utf8'));
config.listeners.proxy.port = 0;
config.listeners.ops.port = 0;
config.catalog = join(ROOT, 'config/catalog');
config.ledger.dir = join(work, 'ledger');
config.credentials[0].base_url = `${provider.url}/v1`;
writeFileSync(join(work, 'tollbooth.yaml'), stringify(config));

const sidecar = spawn(process.execPath, [join(ROOT, 'src/cli.ts'), 'serve', '--config', join(work, 'tollbooth.yaml')], {
  env: { ...process.env, DEMO_OPENAI_API_KEY: PROVIDER_KEY },
  stdio: ['ignore', 'pipe', 'inherit'],
});
const accessLines = new Map<string, Record<string, unknown>>();
const listening = new Promise<{ proxy: string; ops: string }>((resolve, reject) => {
  sidecar.on('exit', (code) => reject(new Error(`the sidecar exited with ${code}`)));
  createInterface({ input: sidecar.stdout! }).on('line', (line) => {
    const entry = JSON.parse(line);
    if (entry.msg === 'tollbooth listening') resolve(entry);
    else if (entry.msg === 'request') accessLines.set(entry.request_id, entry);
    else if (entry.level >= 40) say(`  sidecar │ ${entry.msg}`);
  });
});
const { proxy, ops } = await listening;
say(`▶ sidecar (node src/cli.ts serve): proxy ${proxy}, ops ${ops}`);

/** The sidecar's access log line for a request: written when the response closes. */
async function accessLine(id: string): Promise<string> {
  for (let i = 0; i < 200 && !accessLines.has(id); i++) await new Promise((r) => setTimeout(r, 10));
  const a = accessLines.get(id);
  return a ? `${a.method} ${a.path} → ${a.route} ${a.provider} ${a.model}: ${a.status} in ${a.duration_ms} ms` : '(no access line)';
}

const requestIds: string[] = [];
try {
  // 3a. The unified API: the app's own OpenAI SDK, pointed at the sidecar with its Tollbooth key.
  const unified = new OpenAI({ baseURL: `${proxy}/v1`, apiKey: APP_KEY });
  say();
  say(`1. chat completion: new OpenAI({ baseURL: '${proxy}/v1', apiKey: '${APP_KEY}' })`);
  const { data: completion, response } = await unified.chat.completions
    .create({ model: MODEL, messages: [{ role: 'user', content: 'Invent a new holiday and describe its traditions.' }] })
    .withResponse();
  const id1 = response.headers.get('x-request-id')!;
  requestIds.push(id1);
  const served = response.headers.get('x-tollbooth-model') ?? completion.model;
  const why = served === MODEL ? '' : ` (the catalog routes ${MODEL} to its replacement)`;
  say(`   asked for ${MODEL}, served by ${response.headers.get('x-tollbooth-provider')} as ${served}${why}`);
  say(`   answer: ${clip(completion.choices[0]!.message.content ?? '')}`);
  say(`   usage: ${completion.usage?.prompt_tokens} prompt + ${completion.usage?.completion_tokens} completion tokens; x-request-id ${id1}`);
  say(`   sidecar access log: ${await accessLine(id1)}`);

  // 3b. The same, streamed; the usage arrives in the last chunk.
  say();
  say('2. streamed chat completion (stream: true, stream_options.include_usage)');
  const { data: stream, response: streamed } = await unified.chat.completions
    .create({ model: MODEL, messages: [{ role: 'user', content: 'Invent a new holiday.' }], stream: true, stream_options: { include_usage: true } })
    .withResponse();
  const id2 = streamed.headers.get('x-request-id')!;
  requestIds.push(id2);
  let text = '';
  let chunks = 0;
  let usage: OpenAI.CompletionUsage | null | undefined;
  for await (const chunk of stream) {
    chunks++;
    text += chunk.choices[0]?.delta.content ?? '';
    usage = chunk.usage ?? usage;
  }
  say(`   ${chunks} chunks, ${text.length} characters: ${clip(text)}`);
  say(`   usage: ${usage?.prompt_tokens} prompt + ${usage?.completion_tokens} completion tokens; x-request-id ${id2}`);
  say(`   sidecar access log: ${await accessLine(id2)}`);

  // 3c. Native passthrough: the SDK talks OpenAI's own API through /openai/…; only the key is swapped.
  say();
  say(`3. native passthrough: new OpenAI({ baseURL: '${proxy}/openai/v1', apiKey: '${APP_KEY}' })`);
  const native = new OpenAI({ baseURL: `${proxy}/openai/v1`, apiKey: APP_KEY });
  const { data: passed, response: passedResponse } = await native.chat.completions
    .create({ model: MODEL, messages: [{ role: 'user', content: 'Invent a new holiday.' }] })
    .withResponse();
  const id3 = passedResponse.headers.get('x-request-id')!;
  requestIds.push(id3);
  say(`   the provider's own body, untouched: id ${passed.id}, model ${passed.model}`);
  say(`   answer: ${clip(passed.choices[0]!.message.content ?? '')}`);
  say(`   sidecar access log: ${await accessLine(id3)}`);

  say();
  const keys = new Set(provider.requests.map((r) => r.headers.authorization));
  say(`What the provider saw: ${provider.requests.length} requests, all with the sidecar's key (${[...keys].map((k) => `${String(k).slice(0, 17)}…`).join(', ')});`);
  say(`the app's ${APP_KEY} never left the sidecar.`);

  const metrics = await (await fetch(`${ops}/metrics`)).text();
  say();
  say(`Metrics (${ops}/metrics):`);
  for (const line of metrics.split('\n')) {
    if (/^(tollbooth_credits_charged_total|tollbooth_requests_total|gen_ai_client_token_usage_sum)\{/.test(line)) say(`   ${line}`);
  }
} finally {
  // 4. Stop: SIGTERM drains the sidecar and flushes its ledger.
  sidecar.kill('SIGTERM');
  await new Promise((resolve) => sidecar.once('exit', resolve));
  await provider.close();
}

say();
say('Usage recorded in the ledger (one hash-chained charge per call):');
const ledgerDir = join(work, 'ledger');
// Read with the ledger's own reader: it knows both line formats (compact is the default).
const entries: ChargeEntry[] = [];
walkChain(ledgerDir, (e) => {
  if (e.type === 'charge' && requestIds.includes(e.request_id)) entries.push(e);
});
say(`   ${'request id'.padEnd(36)}  ${'api'.padEnd(7)}  ${'model'.padEnd(12)}  prompt  completion  credits`);
for (const e of entries) {
  say(`   ${e.request_id.padEnd(36)}  ${e.api.padEnd(7)}  ${String(e.model).padEnd(12)}  ${String(e.prompt_tokens).padStart(6)}  ${String(e.completion_tokens).padStart(10)}  ${e.credits}`);
}
rmSync(work, { recursive: true, force: true });
say();
say(`▶ stopped the sidecar and the fake provider (${entries.length} of ${requestIds.length} calls recorded)`);
if (entries.length !== requestIds.length) process.exitCode = 1;
