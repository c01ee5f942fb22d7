/**
 * Native passthrough for Azure OpenAI: the openai SDK's AzureOpenAI client, unmodified but for its
 * endpoint and key, talks to /azure on the real sidecar. Chat completions (deployment-scoped) and the
 * Responses API (azure-text.1.*, azure-tool-call.1.*) go through unchanged; the caller's api-key
 * is swapped for the managed one and usage is read from the response on its way.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { AzureOpenAI } from 'openai';
import { FakeUpstream } from '../support/fake-upstream.ts';
import { chunkLines, fixtureJson, fixtureText, sseFrames } from '../support/fixtures.ts';
import { CALLER_KEYS, providerKey, startTestGateway, type TestGateway } from '../support/gateway.ts';

const DEPLOYMENT = 'gpt-5.1';
const CHAT_API_VERSION = '2024-10-21';
const RESPONSES_API_VERSION = '2025-04-01-preview';

describe('native passthrough for Azure OpenAI with the AzureOpenAI client', () => {
  let upstream: FakeUpstream;
  let gw: TestGateway;
  const azure = (apiVersion = CHAT_API_VERSION) =>
    new AzureOpenAI({ endpoint: `${gw.url}/azure`, apiKey: CALLER_KEYS.member, apiVersion, deployment: DEPLOYMENT, maxRetries: 0 });

  before(async () => {
    upstream = await FakeUpstream.start();
    gw = await startTestGateway({ upstream, credentials: { azure: { base_url: `${upstream.url}/openai`, api_version: CHAT_API_VERSION } } });
  });
  after(async () => {
    await gw.close();
    await upstream.close();
  });

  function assertForwarded(path: string, apiVersion: string) {
    const seen = upstream.last();
    assert.equal(seen.path, path);
    assert.equal(new URL(seen.url, 'http://x').searchParams.get('api-version'), apiVersion, 'the SDK’s api-version goes through');
    assert.equal(seen.headers['api-key'], providerKey('azure'));
    assert.ok(!JSON.stringify(seen.headers).includes(CALLER_KEYS.member), 'the caller key is not forwarded');
  }

  test('a streamed chat completion: every recorded chunk arrives unchanged and the usage chunk is metered', async () => {
    upstream.reset();
    const lines = chunkLines('azure/azure-model-router.1.chunks.txt');
    upstream.on('POST', `/openai/deployments/${DEPLOYMENT}/chat/completions`, { frames: sseFrames(lines, { done: true }) });
    const stream = await azure().chat.completions.create({ model: DEPLOYMENT, messages: [{ role: 'user', content: 'Capital of Denmark?' }], stream: true });
    const received: unknown[] = [];
    for await (const chunk of stream) received.push(chunk);
    assert.deepEqual(received, lines.map((l) => JSON.parse(l)));
    assertForwarded(`/openai/deployments/${DEPLOYMENT}/chat/completions`, CHAT_API_VERSION);

    const usage = JSON.parse(lines.at(-1)!).usage;
    const record = (await gw.usage()).at(-1)!;
    assert.equal(record.api, 'native');
    assert.equal(record.model, 'azure/gpt-5.1', 'the deployment maps to its catalog model');
    assert.equal(record.stream, true);
    assert.equal(record.outcome, 'ok');
    assert.equal(record.prompt_tokens, usage.prompt_tokens);
    assert.equal(record.completion_tokens, usage.completion_tokens);
  });

  test('a non-streamed chat completion comes back byte for byte (OpenAI recording: the wire is OpenAI’s)', async () => {
    upstream.reset();
    const recorded = fixtureText('openai/openai-text.json');
    upstream.on('POST', `/openai/deployments/${DEPLOYMENT}/chat/completions`, { body: recorded });
    const response = await azure().chat.completions.create({ model: DEPLOYMENT, messages: [{ role: 'user', content: 'Hi' }] }).asResponse();
    assert.equal(await response.text(), recorded);
    assertForwarded(`/openai/deployments/${DEPLOYMENT}/chat/completions`, CHAT_API_VERSION);
    const record = (await gw.usage()).at(-1)!;
    assert.equal(record.prompt_tokens, JSON.parse(recorded).usage.prompt_tokens);
  });

  for (const name of ['azure-text.1', 'azure-tool-call.1']) {
    test(`responses.create (${name}.json): the answer and its usage`, async () => {
      upstream.reset();
      const recorded = fixtureJson(`azure/${name}.json`);
      upstream.on('POST', '/openai/responses', { json: recorded });
      const response = await azure(RESPONSES_API_VERSION).responses.create({ model: DEPLOYMENT, input: 'Hi' });
      assert.deepEqual(response.output, recorded.output);
      assertForwarded('/openai/responses', RESPONSES_API_VERSION);
      const record = (await gw.usage()).at(-1)!;
      assert.equal(record.model, 'azure/gpt-5.1');
      assert.equal(record.prompt_tokens, recorded.usage.input_tokens);
      assert.equal(record.completion_tokens, recorded.usage.output_tokens);
      assert.equal(record.usage_source, 'reported');
    });

    test(`responses.create streamed (${name}.chunks.txt): events reassemble and response.completed usage is metered`, async () => {
      upstream.reset();
      const lines = chunkLines(`azure/${name}.chunks.txt`);
      upstream.on('POST', '/openai/responses', { frames: sseFrames(lines, { eventFromType: true }) });
      const stream = await azure(RESPONSES_API_VERSION).responses.create({ model: DEPLOYMENT, input: 'Hi', stream: true });
      let text = '';
      let args = '';
      let completed: any = null;
      for await (const event of stream) {
        if (event.type === 'response.output_text.delta') text += event.delta;
        if (event.type === 'response.function_call_arguments.delta') args += event.delta;
        if (event.type === 'response.completed') completed = event.response;
      }
      const events = lines.map((l) => JSON.parse(l));
      const expectedCompleted = events.find((e) => e.type === 'response.completed').response;
      assert.equal(text, events.filter((e) => e.type === 'response.output_text.delta').map((e) => e.delta).join(''));
      assert.equal(args, events.filter((e) => e.type === 'response.function_call_arguments.delta').map((e) => e.delta).join(''));
      assert.deepEqual(completed.usage, expectedCompleted.usage);
      assertForwarded('/openai/responses', RESPONSES_API_VERSION);

      const record = (await gw.usage()).at(-1)!;
      assert.equal(record.stream, true);
      assert.equal(record.outcome, 'ok');
      assert.equal(record.prompt_tokens, expectedCompleted.usage.input_tokens);
      assert.equal(record.completion_tokens, expectedCompleted.usage.output_tokens);
    });
  }

  test('paths outside the inference APIs are refused', async () => {
    const files = await fetch(`${gw.url}/azure/openai/files?api-version=${CHAT_API_VERSION}`, { headers: { 'api-key': CALLER_KEYS.member } });
    assert.equal(files.status, 404);
    assert.equal(((await files.json()) as { error: { code: string } }).error.code, 'passthrough_path_not_allowed');
  });
});
