/**
 * `npm run demo` (examples/local-demo) runs to completion in a few seconds and shows what it
 * promises: the recorded answers, the request ids the caller got back, one ledger charge per call
 * with the credits the seed's formula gives for the recorded usage, and a provider that only ever
 * saw the sidecar's key.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { chunkLines, fixtureJson } from '../support/fixtures.ts';
import { loadTestCatalog } from '../support/catalog.ts';

const ROOT = new URL('../../', import.meta.url).pathname;

/** The seed's formula, computed here independently of src/metering. */
function credits(modelId: string, prompt: number, completion: number): number {
  const m = loadTestCatalog().models.get(modelId)!;
  return 1 + ((prompt * m.input_usd_per_1m! + completion * m.output_usd_per_1m!) / 1e6) * 1.05 * 1000;
}

test('npm run demo: fake provider, sidecar, three SDK calls, the ledger and the metrics, in seconds', () => {
  const pkg = JSON.parse(readFileSync(new URL('package.json', `file://${ROOT}`), 'utf8'));
  assert.equal(pkg.scripts.demo, 'node examples/local-demo/demo.ts');

  const started = performance.now();
  const run = spawnSync(process.execPath, ['examples/local-demo/demo.ts'], { cwd: ROOT, encoding: 'utf8', timeout: 20_000 });
  const seconds = (performance.now() - started) / 1000;
  assert.equal(run.status, 0, run.stdout + run.stderr);
  assert.ok(seconds < 15, `took ${seconds.toFixed(1)} s`);
  const out = run.stdout;

  // The answers are the recording's.
  const recorded = fixtureJson('openai/openai-text.json');
  const streamedText = chunkLines('openai/openai-text.chunks.txt')
    .map((l) => JSON.parse(l).choices[0]?.delta?.content ?? '')
    .join('');
  assert.ok(out.includes(JSON.stringify(recorded.choices[0].message.content.slice(0, 100)).slice(0, -1)), 'the recorded answer');
  assert.ok(out.includes(`${streamedText.length} characters: ${JSON.stringify(streamedText.slice(0, 100)).slice(0, -1)}`), 'the recorded stream, whole');
  assert.match(out, new RegExp(`the provider's own body, untouched: id ${recorded.id}`));

  // Each request id the caller got back has its access line and its ledger charge.
  const ids = [...out.matchAll(/x-request-id ([0-9a-f-]{36})/g)].map((m) => m[1]!);
  assert.equal(ids.length, 2);
  const ledger = new Map([...out.matchAll(/^ {3}([0-9a-f-]{36}) +(unified|native) +(\S+) +(\d+) +(\d+) +([\d.]+)$/gm)].map((m) => [m[1]!, m]));
  assert.equal(ledger.size, 3, 'three charges');
  for (const id of ids) assert.ok(ledger.has(id), `the ledger has ${id}`);
  assert.equal(out.match(/sidecar access log: POST \/(?:openai\/)?v1\/chat\/completions → (unified|native) openai \S+: 200 in [\d.]+ ms/g)?.length, 3);

  for (const [, , api, model, prompt, completion, charged] of ledger.values()) {
    const expected = credits(model!, Number(prompt), Number(completion));
    assert.ok(Math.abs(Number(charged) - expected) < 1e-6, `${api} ${model}: ${charged} credits, expected ${expected}`);
  }
  const streamUsage = JSON.parse(chunkLines('openai/openai-text.chunks.txt').at(-1)!).usage;
  assert.ok([...ledger.values()].some((m) => Number(m[4]) === streamUsage.prompt_tokens && Number(m[5]) === streamUsage.completion_tokens), 'the streamed usage');

  assert.match(out, /What the provider saw: 3 requests, all with the sidecar's key \(Bearer sk-demo-pr…\)/);
  assert.match(out, /^ {3}tollbooth_credits_charged_total\{org="demo",provider="openai",model="[^"]+"\} [\d.]+$/m);
  assert.match(out, /3 of 3 calls recorded/);
});
