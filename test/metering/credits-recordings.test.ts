/**
 * Credits in the ledger equal the money rule for every recorded provider response that carries
 * usage: each recording is replayed through the real sidecar (unified API, official openai SDK),
 * and the charge entry's exact decimal `credits` is compared with the rule evaluated here, in exact
 * fractions, from the usage numbers read straight out of the recording, split into token classes by
 * each vendor's documented rule, and the catalog's class, tier and dated prices.
 * A family whose adapter is not in the registry yet is skipped (its rows light up when it lands).
 */
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { loadCatalogDir } from '../../src/cli/rebill.ts';
import { formatCredits, parseCredits } from '../../src/metering/credits.ts';
import { rebill } from '../../src/metering/ledger/rebill.ts';
import { summarize } from '../../src/metering/ledger/summary.ts';
import { after, before, describe, test } from 'node:test';
import type { ApiFamily, ModelRecord } from '../../src/catalog/types.ts';
import { hasAdapter } from '../../src/providers/registry.ts';
import { CATALOG_DIR, loadTestCatalog } from '../support/catalog.ts';
import { priceSetFor } from '../support/expect.ts';
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
 * The tokens each family bills, by class, read from the recording the way its docs define them
 * (DESIGN.md "Wire facts"): OpenAI and Gemini count cached input inside the prompt, Anthropic and
 * Bedrock report it beside; OpenAI's reasoning is inside completion tokens (xAI's beside), Gemini's
 * thoughts beside the candidates; Cohere bills billed_units.
 */
const BILLED: Record<ApiFamily, { json(body: any, r: Recording): Tokens; stream(lines: any[], r: Recording): Tokens }> = {
  openai: {
    json: (b, r) => openaiTokens(b.usage, r, b.service_tier),
    stream: (lines, r) => openaiTokens(lastOf(lines, (c) => c.usage ?? c.x_groq?.usage), r, lastOf(lines, (c) => c.service_tier)),
  },
  azure: {
    json: (b, r) => openaiTokens(b.usage, r, b.service_tier),
    stream: (lines, r) => openaiTokens(lastOf(lines, (c) => c.usage), r, lastOf(lines, (c) => c.service_tier)),
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
    json: (b) => tokens({ input: (b.usage ?? b.meta).billed_units.input_tokens, output: (b.usage ?? b.meta).billed_units.output_tokens ?? 0 }),
    stream: (lines) => {
      const end = lines.find((e) => e.type === 'message-end');
      return tokens({ input: end.delta.usage.billed_units.input_tokens, output: end.delta.usage.billed_units.output_tokens });
    },
  },
};

const INPUT = ['input', 'cache_read', 'cache_write_5m', 'cache_write_1h', 'audio_input', 'image_input'] as const;
const OUTPUT = ['output', 'reasoning', 'audio_output', 'image_output'] as const;
type Class = (typeof INPUT)[number] | (typeof OUTPUT)[number];

interface Tokens {
  classes: Partial<Record<Class, number>>;
  prompt: number;
  completion: number;
  serviceTier?: string;
}

function tokens(classes: Partial<Record<Class, number>>, serviceTier?: string): Tokens {
  const sum = (list: readonly Class[]) => list.reduce((n, c) => n + (classes[c] ?? 0), 0);
  return { classes, prompt: sum(INPUT), completion: sum(OUTPUT), ...(serviceTier ? { serviceTier } : {}) };
}

function lastOf(lines: any[], pick: (line: any) => any): any {
  return lines.map(pick).filter((u) => u !== undefined && u !== null).at(-1);
}

function openaiTokens(u: any, r: Recording, serviceTier: string | undefined): Tokens {
  const cached = u.prompt_tokens_details?.cached_tokens ?? u.prompt_cache_hit_tokens ?? 0;
  const reasoning = u.completion_tokens_details?.reasoning_tokens ?? 0;
  const completion = u.completion_tokens ?? 0;
  return tokens(
    { input: u.prompt_tokens - cached, cache_read: cached, reasoning, output: r.reasoningSeparate ? completion : completion - reasoning },
    serviceTier,
  );
}

function anthropicTokens(u: any): Tokens {
  const writes1h = u.cache_creation?.ephemeral_1h_input_tokens ?? 0;
  return tokens(
    {
      input: u.input_tokens,
      cache_read: u.cache_read_input_tokens ?? 0,
      cache_write_1h: writes1h,
      cache_write_5m: (u.cache_creation_input_tokens ?? 0) - writes1h,
      // Thinking is inside output_tokens; newer models report its share.
      reasoning: u.output_tokens_details?.thinking_tokens ?? 0,
      output: u.output_tokens - (u.output_tokens_details?.thinking_tokens ?? 0),
    },
    u.service_tier,
  );
}

function geminiTokens(u: any): Tokens {
  const cached = u.cachedContentTokenCount ?? 0;
  return tokens({ input: u.promptTokenCount + (u.toolUsePromptTokenCount ?? 0) - cached, cache_read: cached, output: u.candidatesTokenCount ?? 0, reasoning: u.thoughtsTokenCount ?? 0 });
}

function bedrockTokens(u: any): Tokens {
  return tokens({ input: u.inputTokens, cache_read: u.cacheReadInputTokens ?? 0, cache_write_5m: u.cacheWriteInputTokens ?? 0, output: u.outputTokens });
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

/** 1 + Σ tokens × rate / 1e6 × 1.05 × 1000, in exact fractions, as a decimal string. */
function expectedCredits(model: ModelRecord, t: Tokens, operation: 'chat' | 'embeddings'): string {
  // The set by the rule (test/support/expect.ts); the arithmetic here is exact fractions.
  const set = priceSetFor(model, t.prompt, t.serviceTier ? { serviceTier: t.serviceTier } : {});
  let usd: Fraction = [0n, 1n];
  for (const cls of [...INPUT, ...OUTPUT]) {
    const count = operation === 'embeddings' && (OUTPUT as readonly string[]).includes(cls) ? 0 : (t.classes[cls] ?? 0);
    if (count === 0) continue;
    const fallback = (INPUT as readonly string[]).includes(cls) ? 'input' : 'output';
    const [rn, rd] = fraction(String(set[`${cls}_usd_per_1m`] ?? set[`${fallback}_usd_per_1m`]));
    usd = reduce([usd[0] * rd + BigInt(count) * rn * usd[1], usd[1] * rd]);
  }
  // 1 + usd · 105/100 · 1000 / 10^6
  const [n, d] = reduce([usd[1] * 100n * 1_000_000n + usd[0] * 105n * 1000n, usd[1] * 100n * 1_000_000n]);
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

describe('ledger credits equal the money rule, for every recording with usage', () => {
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
      const billed = Object.fromEntries(Object.entries(tokens.classes).filter(([cls, n]) => n > 0 && !(operation === 'embeddings' && (OUTPUT as readonly string[]).includes(cls))));
      assert.deepEqual(charge.bill?.usage, billed, 'the charge stamps its usage by class');
    });
  });

  test('ledger rebill re-derives every charge above from its stamp alone: 0 differences', async () => {
    await gw.gateway.recorder.flush();
    const report = rebill(`${gw.dir}/data`);
    const charged = ledgerCharges(`${gw.dir}/data`).filter((c) => c.credits !== '0');
    assert.equal(report.rebilled, charged.length);
    assert.deepEqual(report.differences, []);
    assert.equal(report.rebilled_total, report.booked_total);

    // `ledger summary` breaks the same credits down by class: they add up to the total charged.
    const summary = await summarize(`${gw.dir}/data`, 'model');
    assert.deepEqual(summary.credits_by_class, report.by_class);
    const sum = Object.values(summary.credits_by_class).reduce((n, c) => n + parseCredits(c), 0n);
    assert.equal(formatCredits(sum), summary.total_credits);
    assert.ok(Number(summary.credits_by_class.cache_read ?? 0) > 0 && Number(summary.credits_by_class.reasoning ?? 0) > 0, 'recordings with cache reads and reasoning');
  });

  test('ledger rebill --catalog: the same traffic under a changed price shows exactly the expected differences', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tollbooth-rebill-catalog-'));
    try {
      cpSync(CATALOG_DIR, dir, { recursive: true });
      // Mistral's output price doubles in the preview catalog.
      const file = join(dir, 'models', 'mistral.yaml');
      const doc = parse(readFileSync(file, 'utf8'));
      const changed = new Set<string>();
      for (const m of doc.models) {
        if (typeof m.output_usd_per_1m === 'number') {
          m.output_usd_per_1m *= 2;
          changed.add(m.model_id);
        }
      }
      writeFileSync(file, stringify(doc));
      const report = rebill(`${gw.dir}/data`, loadCatalogDir(dir));
      const charges = ledgerCharges(`${gw.dir}/data`).filter((c) => c.credits !== '0');
      const expected = charges.filter((c) => changed.has(c.model!) && c.completion_tokens > 0).map((c) => c.request_id).sort();
      assert.ok(expected.length > 0, 'the suite charged Mistral output');
      assert.deepEqual(report.differences.map((d) => d.request_id).sort(), expected);
      for (const d of report.differences) {
        const c = charges.find((x) => x.request_id === d.request_id)!;
        // Doubling the output rate adds the output part once more: output credits as stamped.
        assert.equal(d.difference, c.bill!.credits.output, `${d.request_id}: the difference is its output credits`);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
