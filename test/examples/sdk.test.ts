/**
 * examples/sdk: each snippet's client, built exactly as the snippet builds it (base URL and key),
 * runs its call through the real sidecar to a fake provider replaying that provider's recording.
 * The snippet returns the recorded answer, and the provider saw the managed key, never the caller's.
 */
import assert from 'node:assert/strict';
import type { SeenRequest } from '../support/fake-upstream.ts';
import { after, before, describe, test } from 'node:test';
import * as anthropic from '../../examples/sdk/anthropic.ts';
import * as azure from '../../examples/sdk/azure-openai.ts';
import * as bedrock from '../../examples/sdk/bedrock.ts';
import * as cohere from '../../examples/sdk/cohere.ts';
import * as gemini from '../../examples/sdk/gemini.ts';
import * as openaiPassthrough from '../../examples/sdk/openai-passthrough.ts';
import * as openaiUnified from '../../examples/sdk/openai-unified.ts';
import { startBedrockGateway } from '../providers/bedrock/bedrock-gateway.ts';
import { signed, TEST_AWS } from '../providers/bedrock/bedrock-upstream.ts';
import { FakeUpstream } from '../support/fake-upstream.ts';
import { fixtureJson, fixtureText } from '../support/fixtures.ts';
import { CALLER_KEYS, providerKey, type TestGateway } from '../support/gateway.ts';

const texts = (parts: any[], pick: (p: any) => string | undefined) => parts.map((p) => pick(p) ?? '').join('');

interface Case {
  name: string;
  snippet: { client(s: { url: string; key: string }): any; ask(client: any): Promise<string> };
  path: RegExp;
  reply: Parameters<FakeUpstream['on']>[2];
  expected: string;
  /** The managed credential, as the provider must have received it. */
  sawManagedKey(seen: SeenRequest): void;
}

const bearer = (provider: string) => (seen: SeenRequest) => assert.equal(seen.headers.authorization, `Bearer ${providerKey(provider)}`);

const CASES: Case[] = [
  {
    name: 'openai-unified.ts',
    snippet: openaiUnified,
    path: /^\/v1\/chat\/completions$/,
    reply: { json: fixtureJson('openai/openai-text.json') },
    expected: fixtureJson('openai/openai-text.json').choices[0].message.content,
    sawManagedKey: bearer('openai'),
  },
  {
    name: 'openai-passthrough.ts',
    snippet: openaiPassthrough,
    path: /^\/v1\/chat\/completions$/,
    reply: { body: fixtureText('openai/openai-text.json') },
    expected: fixtureJson('openai/openai-text.json').choices[0].message.content,
    sawManagedKey: bearer('openai'),
  },
  {
    name: 'anthropic.ts',
    snippet: anthropic,
    path: /^\/v1\/messages$/,
    reply: { body: fixtureText('anthropic/anthropic-text.json') },
    expected: texts(fixtureJson('anthropic/anthropic-text.json').content, (b) => (b.type === 'text' ? b.text : undefined)),
    sawManagedKey: (seen) => assert.equal(seen.headers['x-api-key'], providerKey('anthropic')),
  },
  {
    name: 'gemini.ts',
    snippet: gemini,
    path: /\/models\/gemini-3\.8-flash:generateContent$/,
    reply: { json: fixtureJson('gemini/google-text.json') },
    expected: texts(fixtureJson('gemini/google-text.json').candidates[0].content.parts, (p) => (p.thought ? undefined : p.text)),
    sawManagedKey: (seen) => assert.equal(seen.headers['x-goog-api-key'], providerKey('gemini')),
  },
  {
    name: 'bedrock.ts',
    snippet: bedrock,
    path: /^\/model\/us\.anthropic\.claude-haiku-4-5-20251001-v1%3A0\/converse$/,
    // signed(): the fake refuses anything but a valid SigV4 signature with the managed credential.
    reply: signed({ json: fixtureJson('bedrock/amazon-bedrock-text.json') }),
    expected: texts(fixtureJson('bedrock/amazon-bedrock-text.json').output.message.content, (b) => b.text),
    sawManagedKey: (seen) => assert.match(String(seen.headers.authorization), new RegExp(`^AWS4-HMAC-SHA256 Credential=${TEST_AWS.accessKeyId}/`)),
  },
  {
    name: 'cohere.ts',
    snippet: cohere,
    path: /^\/v2\/chat$/,
    reply: { body: fixtureText('cohere/cohere-text.json') },
    expected: texts(fixtureJson('cohere/cohere-text.json').message.content, (p) => (p.type === 'text' ? p.text : undefined)),
    sawManagedKey: bearer('cohere'),
  },
  {
    name: 'azure-openai.ts',
    snippet: azure,
    path: /^\/openai\/deployments\/gpt-5\.1\/chat\/completions$/,
    // Azure's chat completions wire is OpenAI's (SOURCES.md has no non-streamed Azure chat recording).
    reply: { body: fixtureText('openai/openai-text.json') },
    expected: fixtureJson('openai/openai-text.json').choices[0].message.content,
    sawManagedKey: (seen) => assert.equal(seen.headers['api-key'], providerKey('azure')),
  },
];

describe('examples/sdk snippets against the sidecar', () => {
  let upstream: FakeUpstream;
  let gw: TestGateway;

  before(async () => {
    upstream = await FakeUpstream.start();
    gw = await startBedrockGateway({ upstream, credentials: { azure: { base_url: `${upstream.url}/openai`, api_version: '2024-10-21' } } });
  });
  after(async () => {
    await gw.close();
    await upstream.close();
  });

  for (const c of CASES) {
    test(`${c.name}: the recorded answer comes back; the provider saw the managed key only`, async () => {
      upstream.reset();
      upstream.on('POST', c.path, c.reply);
      const client = c.snippet.client({ url: gw.url, key: CALLER_KEYS.member });
      const answer = await c.snippet.ask(client);
      assert.ok(c.expected.length > 0);
      assert.equal(answer, c.expected);
      assert.equal(upstream.requests.length, 1, 'one call reached the provider');
      const seen = upstream.last();
      c.sawManagedKey(seen);
      assert.ok(!JSON.stringify(seen.headers).includes(CALLER_KEYS.member), 'the caller key is not forwarded');
      if ('destroy' in client && typeof client.destroy === 'function') client.destroy();
    });
  }
});
