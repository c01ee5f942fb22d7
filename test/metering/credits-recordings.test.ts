/**
 * Credits in the ledger equal the seed's formula for every recorded provider response that carries
 * usage: each recording is replayed through the real sidecar (unified API, official openai SDK),
 * and the charge entry's exact decimal `credits` is compared with the formula evaluated here, in
 * exact fractions, from the usage numbers read straight out of the recording and the catalog prices.
 * A family whose adapter is not in the registry yet is skipped (its rows light up when it lands).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { ApiFamily, ModelRecord } from '../../src/catalog/types.ts';
import { hasAdapter } from '../../src/providers/registry.ts';
import { loadTestCatalog } from '../support/catalog.ts';
import { FakeUpstream, type Reply } from '../support/fake-upstream.ts';
import { chunkLines, fixtureJson, sseFrames } from '../support/fixtures.ts';
import { ledgerCharges, startTestGateway, type TestGateway } from '../support/gateway.ts';
import { recordedFrames, TEST_AWS_CREDENTIAL_STRING } from '../providers/bedrock/bedrock-upstream.ts';

interface Recording {
  file: string;
  /** Catalog model the caller asks for; default: the provider's first active, priced model for the operation. */
  model?: string;
  provider: string;
  operation?: 'chat' | 'embeddings';
  /** xAI reports reasoning tokens outside completion_tokens; they are billed as output. */
  reasoningSeparate?: boolean;
}

const RECORDINGS: Recording[] = [
  { provider: 'openai', file: 'openai/openai-text.json' },
  { provider: 'openai', file: 'openai/openai-text.chunks.txt' },
  { provider: 'openai', file: 'openai/openai-embedding.json', operation: 'embeddings' },
  { provider: 'groq', file: 'groq/groq-text.json' },
  { provider: 'groq', file: 'groq/groq-text.chunks.txt' },
  { provider: 'groq', file: 'groq/groq-tool-call.json' },
  { provider: 'groq', file: 'groq/groq-tool-call.chunks.txt' },
  { provider: 'deepseek', file: 'deepseek/deepseek-text.json', model: 'deepseek-chat' },
  { provider: 'deepseek', file: 'deepseek/deepseek-text.chunks.txt', model: 'deepseek-chat' },
  { provider: 'deepseek', file: 'deepseek/deepseek-tool-call.json', model: 'deepseek-reasoner' },
  { provider: 'deepseek', file: 'deepseek/deepseek-tool-call.chunks.txt', model: 'deepseek-reasoner' },
  { provider: 'deepseek', file: 'deepseek/deepseek-reasoning.json', model: 'deepseek-reasoner' },
  { provider: 'deepseek', file: 'deepseek/deepseek-reasoning.chunks.txt', model: 'deepseek-reasoner' },
  { provider: 'xai', file: 'xai/xai-text.json', model: 'grok-3-mini', reasoningSeparate: true },
  { provider: 'xai', file: 'xai/xai-text.chunks.txt', model: 'grok-3-mini', reasoningSeparate: true },
  { provider: 'xai', file: 'xai/xai-tool-call.json', model: 'grok-3-mini', reasoningSeparate: true },
  { provider: 'xai', file: 'xai/xai-tool-call.chunks.txt', model: 'grok-3-mini', reasoningSeparate: true },
  { provider: 'mistral', file: 'mistral/mistral-text.json' },
  { provider: 'mistral', file: 'mistral/mistral-text.chunks.txt' },
  { provider: 'mistral', file: 'mistral/mistral-tool-call.json' },
  { provider: 'mistral', file: 'mistral/mistral-tool-call.chunks.txt' },
  { provider: 'mistral', file: 'mistral/mistral-incremental-tool-call.chunks.txt' },
  { provider: 'mistral', file: 'mistral/mistral-reasoning.json' },
  { provider: 'mistral', file: 'mistral/mistral-reasoning.chunks.txt' },
  { provider: 'cerebras', file: 'cerebras/cerebras-structured-output-tools.1.json' },
  { provider: 'cerebras', file: 'cerebras/cererebras-structured-output-tools.1.chunks.txt' },
  // Perplexity's models are deprecated without replacement: still served, still charged.
  { provider: 'perplexity', file: 'perplexity/perplexity-text.json', model: 'sonar' },
  { provider: 'perplexity', file: 'perplexity/perplexity-text.chunks.txt', model: 'sonar' },
  { provider: 'azure', file: 'azure/azure-model-router.1.chunks.txt', model: 'azure/gpt-4.1' },
  { provider: 'anthropic', file: 'anthropic/anthropic-text.json', model: 'claude-sonnet-4.6' },
  { provider: 'anthropic', file: 'anthropic/anthropic-text.chunks.txt', model: 'claude-sonnet-4.6' },
  { provider: 'anthropic', file: 'anthropic/anthropic-json-tool.1.json', model: 'claude-sonnet-4.6' },
  { provider: 'anthropic', file: 'anthropic/anthropic-json-tool.1.chunks.txt', model: 'claude-sonnet-4.6' },
  { provider: 'anthropic', file: 'anthropic/anthropic-tool-no-args.json', model: 'claude-sonnet-4.6' },
  { provider: 'anthropic', file: 'anthropic/anthropic-tool-no-args.chunks.txt', model: 'claude-sonnet-4.6' },
  { provider: 'anthropic', file: 'anthropic/anthropic-clear-thinking.1.json', model: 'claude-sonnet-4.6' },
  { provider: 'anthropic', file: 'anthropic/anthropic-clear-thinking.1.chunks.txt', model: 'claude-sonnet-4.6' },
  { provider: 'anthropic', file: 'anthropic/anthropic-claude-opus-5-reasoning-high.1.json', model: 'claude-opus-5.5' },
  { provider: 'anthropic', file: 'anthropic/anthropic-refusal.json', model: 'claude-haiku-4.5' },
  { provider: 'anthropic', file: 'anthropic/anthropic-refusal.chunks.txt', model: 'claude-haiku-4.5' },
  { provider: 'anthropic', file: 'anthropic/anthropic-message-delta-input-tokens.chunks.txt', model: 'claude-haiku-4.5' },
  { provider: 'gemini', file: 'gemini/google-text.json', model: 'gemini-3.8-flash' },
  { provider: 'gemini', file: 'gemini/google-text.chunks.txt', model: 'gemini-3.8-flash' },
  { provider: 'gemini', file: 'gemini/google-tool-call.json', model: 'gemini-3.8-flash' },
  { provider: 'gemini', file: 'gemini/google-tool-call.chunks.txt', model: 'gemini-3.8-flash' },
  { provider: 'gemini', file: 'gemini/google-tool-call-gemini3.json', model: 'gemini-3.8-flash' },
  { provider: 'gemini', file: 'gemini/google-tool-call-gemini3.chunks.txt', model: 'gemini-3.8-flash' },
  { provider: 'gemini', file: 'gemini/google-reasoning.json', model: 'gemini-3.8-flash' },
  { provider: 'gemini', file: 'gemini/google-reasoning.chunks.txt', model: 'gemini-3.8-flash' },
  { provider: 'gemini', file: 'gemini/google-stream-tool-call-arguments.chunks.txt', model: 'gemini-3.8-flash' },
  { provider: 'bedrock', file: 'bedrock/amazon-bedrock-text.json', model: 'bedrock/claude-haiku-4.5' },
  { provider: 'bedrock', file: 'bedrock/amazon-bedrock-text.chunks.txt', model: 'bedrock/claude-haiku-4.5' },
  { provider: 'bedrock', file: 'bedrock/amazon-bedrock-reasoning.json', model: 'bedrock/claude-sonnet-4.6' },
  { provider: 'bedrock', file: 'bedrock/amazon-bedrock-reasoning.chunks.txt', model: 'bedrock/claude-sonnet-4.6' },
  { provider: 'cohere', file: 'cohere/cohere-text.json', model: 'command-a-03-2025' },
  { provider: 'cohere', file: 'cohere/cohere-text.chunks.txt', model: 'command-a-03-2025' },
  { provider: 'cohere', file: 'cohere/cohere-tool-call.json', model: 'command-a-03-2025' },
  { provider: 'cohere', file: 'cohere/cohere-tool-call.chunks.txt', model: 'command-a-03-2025' },
  { provider: 'cohere', file: 'cohere/cohere-max-tokens.json', model: 'command-a-03-2025' },
  { provider: 'cohere', file: 'cohere/cohere-reasoning.json', model: 'command-a-reasoning-08-2025' },
  { provider: 'cohere', file: 'cohere/cohere-reasoning.chunks.txt', model: 'command-a-reasoning-08-2025' },
  { provider: 'cohere', file: 'cohere/cohere-embedding.json', model: 'embed-v4.0', operation: 'embeddings' },
];

/**
 * The tokens each family bills, read from the recording the way its docs define them
 * (DESIGN.md "Wire facts"): input at the input price, output (reasoning included) at the output price.
 */
const BILLED: Record<ApiFamily, { json(body: any, r: Recording): Tokens; stream(lines: any[], r: Recording): Tokens }> = {
  openai: {
    json: (b, r) => openaiTokens(b.usage, r),
    stream: (lines, r) => openaiTokens(lastOf(lines, (c) => c.usage ?? c.x_groq?.usage), r),
  },
  azure: {
    json: (b, r) => openaiTokens(b.usage, r),
    stream: (lines, r) => openaiTokens(lastOf(lines, (c) => c.usage), r),
  },
  anthropic: {
    json: (b) => anthropicTokens(b.usage),
    // message_start carries input counts; message_delta's usage is cumulative and may restate them.
    stream: (lines) =>
      anthropicTokens(Object.assign({}, ...lines.map((e) => (e.type === 'message_start' ? e.message.usage : e.type === 'message_delta' ? e.usage : {})))),
  },
  gemini: {
    json: (b) => geminiTokens(b.usageMetadata),
    // Every chunk carries running usageMetadata: only the last one counts.
    stream: (lines) => geminiTokens(lastOf(lines, (c) => c.usageMetadata)),
  },
  bedrock: {
    json: (b) => bedrockTokens(b.usage),
    stream: (lines) => bedrockTokens(lastOf(lines, (e) => e.metadata?.usage)),
  },
  cohere: {
    // Cohere bills billed_units, not tokens.
    json: (b) => ({ prompt: (b.usage ?? b.meta).billed_units.input_tokens, completion: (b.usage ?? b.meta).billed_units.output_tokens ?? 0 }),
    stream: (lines) => {
      const end = lines.find((e) => e.type === 'message-end');
      return { prompt: end.delta.usage.billed_units.input_tokens, completion: end.delta.usage.billed_units.output_tokens };
    },
  },
};

interface Tokens {
  prompt: number;
  completion: number;
}

function lastOf(lines: any[], pick: (line: any) => any): any {
  return lines.map(pick).filter((u) => u !== undefined && u !== null).at(-1);
}

function openaiTokens(u: any, r: Recording): Tokens {
  const reasoning = u.completion_tokens_details?.reasoning_tokens ?? 0;
  return { prompt: u.prompt_tokens, completion: (u.completion_tokens ?? 0) + (r.reasoningSeparate ? reasoning : 0) };
}

function anthropicTokens(u: any): Tokens {
  return { prompt: u.input_tokens + (u.cache_creation_input_tokens ?? 0) + (u.cache_read_input_tokens ?? 0), completion: u.output_tokens };
}

function geminiTokens(u: any): Tokens {
  return { prompt: u.promptTokenCount, completion: (u.candidatesTokenCount ?? 0) + (u.thoughtsTokenCount ?? 0) };
}

function bedrockTokens(u: any): Tokens {
  return { prompt: u.inputTokens + (u.cacheReadInputTokens ?? 0) + (u.cacheWriteInputTokens ?? 0), completion: u.outputTokens };
}

/** How each family frames a stream on the wire (test/fixtures/providers/SOURCES.md, "Format notes"). */
function streamReply(family: ApiFamily, file: string): Reply {
  const lines = chunkLines(file);
  switch (family) {
    case 'anthropic':
    case 'cohere':
      return { frames: sseFrames(lines, { eventFromType: true }) };
    case 'gemini':
      return { frames: sseFrames(lines) };
    case 'bedrock':
      return { headers: { 'content-type': 'application/vnd.amazon.eventstream' }, frames: recordedFrames(file) };
    default:
      return { frames: sseFrames(lines, { done: true }) };
  }
}

/** An exact fraction n/d, reduced. */
type Fraction = [bigint, bigint];

function fraction(decimal: string): Fraction {
  const [whole, frac = ''] = decimal.split('.');
  return reduce([BigInt(whole + frac), 10n ** BigInt(frac.length)]);
}

function reduce([n, d]: Fraction): Fraction {
  const gcd = (a: bigint, b: bigint): bigint => (b === 0n ? a : gcd(b, a % b));
  const g = gcd(n < 0n ? -n : n, d) || 1n;
  return [n / g, d / g];
}

/** The seed's formula in exact fractions: 1 + (p × in + c × out) / 1e6 × 1.05 × 1000, as a decimal string. */
function expectedCredits(model: ModelRecord, t: Tokens, operation: 'chat' | 'embeddings'): string {
  const [inN, inD] = fraction(String(model.input_usd_per_1m));
  const [outN, outD] = fraction(String(model.output_usd_per_1m));
  const completion = operation === 'embeddings' ? 0n : BigInt(t.completion);
  // 1 + (p·inN/inD + c·outN/outD) · 105/100 · 1000 / 10^6
  const usdN = BigInt(t.prompt) * inN * outD + completion * outN * inD;
  const usdD = inD * outD;
  const [n, d] = reduce([usdD * 100n * 1_000_000n + usdN * 105n * 1000n, usdD * 100n * 1_000_000n]);
  let digits = 0;
  let scaled = n;
  while ((scaled * 10n ** BigInt(digits)) % d !== 0n) digits++;
  scaled = (n * 10n ** BigInt(digits)) / d;
  const text = scaled.toString().padStart(digits + 1, '0');
  return digits === 0 ? text : `${text.slice(0, -digits)}.${text.slice(-digits)}`;
}

const catalog = loadTestCatalog();

function modelFor(r: Recording): ModelRecord {
  const id =
    r.model ??
    catalog
      .modelsOf(r.provider)
      .find((m) => m.status === 'active' && m.operations.includes(r.operation ?? 'chat') && m.input_usd_per_1m !== null && m.output_usd_per_1m !== null)?.model_id;
  assert.ok(id, `the catalog has a priced ${r.operation ?? 'chat'} model for ${r.provider}`);
  const model = catalog.resolve(id).model;
  assert.equal(model.provider, r.provider, `${id} is served by ${r.provider}`);
  assert.ok(model.input_usd_per_1m !== null && model.output_usd_per_1m !== null, `${id} is priced`);
  return model;
}

describe('ledger credits equal the formula, for every recording with usage', () => {
  let upstream: FakeUpstream;
  let gw: TestGateway;

  before(async () => {
    upstream = await FakeUpstream.start();
    gw = await startTestGateway({
      upstream,
      env: { TB_TEST_CREDITS_BEDROCK: TEST_AWS_CREDENTIAL_STRING },
      credentials: { bedrock: { secret: { env: 'TB_TEST_CREDITS_BEDROCK' } } },
    });
  });
  after(async () => {
    await gw.close();
    await upstream.close();
  });

  RECORDINGS.forEach((r, i) => {
    const family = catalog.provider(r.provider)!.api;
    const streamed = r.file.endsWith('.chunks.txt');
    const skip = hasAdapter(family) ? false : `no ${family} adapter in src/providers/registry.ts yet`;

    test(`${r.provider} ${r.file}`, { skip }, async () => {
      const model = modelFor(r);
      const operation = r.operation ?? 'chat';
      const tokens = streamed ? BILLED[family].stream(chunkLines(r.file).map((l) => JSON.parse(l)), r) : BILLED[family].json(fixtureJson(r.file), r);
      const requestId = `credits-${i}`;
      upstream.reset();
      upstream.on('POST', /.*/, streamed ? streamReply(family, r.file) : { json: fixtureJson(r.file) });

      const client = gw.openai(undefined, { defaultHeaders: { 'x-request-id': requestId } });
      if (operation === 'embeddings') {
        await client.embeddings.create({ model: model.model_id, input: 'Hello' });
      } else if (streamed) {
        const stream = await client.chat.completions.create({ model: model.model_id, messages: [{ role: 'user', content: 'Hello' }], stream: true });
        for await (const _ of stream);
      } else {
        await client.chat.completions.create({ model: model.model_id, messages: [{ role: 'user', content: 'Hello' }] });
      }

      await gw.gateway.recorder.flush();
      const charges = ledgerCharges(`${gw.dir}/data`).filter((c) => c.request_id === requestId);
      assert.equal(charges.length, 1, 'exactly one charge for the request');
      const charge = charges[0]!;
      assert.equal(charge.model, model.model_id);
      assert.equal(charge.usage_source, 'reported');
      assert.deepEqual({ prompt: charge.prompt_tokens, completion: charge.completion_tokens }, { prompt: tokens.prompt, completion: operation === 'embeddings' ? 0 : tokens.completion });
      assert.equal(charge.credits, expectedCredits(model, tokens, operation));
    });
  });
});
