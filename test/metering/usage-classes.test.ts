/**
 * Every token a provider reports is counted once, and none is lost, by the token classes the pricing
 * engine bills apart. Every recording in test/fixtures/providers is walked; each one that carries
 * usage is read by its provider's adapter, as the passthrough tap and as the unified translation
 * read it, and the classes the resulting Usage implies (input = prompt − cache read − cache writes −
 * audio in − image in; output = completion − reasoning − audio out − image out) are checked against
 * numbers taken here straight from the raw recording by each vendor's own rule:
 *  - each class is ≥ 0, and all of them sum to the vendor's total (OpenAI: prompt_tokens +
 *    completion_tokens, + reasoning for xAI, which reports it apart; Responses: input_tokens +
 *    output_tokens; Anthropic: input_tokens + cache_creation + cache_read + output_tokens; Gemini:
 *    promptTokenCount + toolUsePromptTokenCount + candidatesTokenCount + thoughtsTokenCount; Bedrock:
 *    inputTokens + cacheRead + cacheWrite + outputTokens; Cohere: billed_units), which is also the
 *    vendor's own total_tokens / totalTokenCount / totalTokens where it sends one;
 *  - cache read, cache writes by TTL, reasoning, audio and image counts equal the recording's fields;
 *  - the served tier and the non-token units are the recording's.
 * A recording without usage is skipped by name, with the reason, and the test proves it has none.
 */
import assert from 'node:assert/strict';
import { readdirSync, statSync } from 'node:fs';
import { describe, test } from 'node:test';
import type { Operation } from '../../src/catalog/types.ts';
import type { Usage } from '../../src/metering/usage.ts';
import type { ProviderAdapter, StreamTranslator } from '../../src/providers/contract.ts';
import { createAdapter } from '../../src/providers/registry.ts';
import { responsesNative } from '../../src/providers/responses/native.ts';
import type { Target } from '../../src/routing/target.ts';
import { recordedFrames } from '../providers/bedrock/bedrock-upstream.ts';
import { loadTestCatalog } from '../support/catalog.ts';
import { chunkLines, fixtureBytes, fixtureJson, sseFrames } from '../support/fixtures.ts';
import { classesOf } from '../support/usage-classes.ts';

const ROOT = new URL('../fixtures/providers/', import.meta.url);

/** Recordings with no usage on the wire, and why: each is still proved to carry none. */
const NO_USAGE: Record<string, string> = {
  'openai/openai-error.1.json': 'a 429 insufficient_quota error body',
  'openai/openai-error.1.chunks.txt': 'a Responses stream that fails before any token (response.failed has no usage)',
  'openai/gpt-image-response-format-error.json': 'a 400 unknown_parameter error body',
  'openai/reasoning-model-legacy-parameter-error.json': 'a 400 unsupported_parameter error body',
  'gemini/google-429-retry-info.json': 'a 429 RESOURCE_EXHAUSTED error body',
  'gemini/google-vertex-embedding.json': 'a Vertex AI :predict answer (statistics.token_count per instance): no adapter serves that API',
  'groq/groq-transcription-text.json': 'a text/plain transcription: the answer is the text, no usage',
  'openai/gpt-4o-mini-tts-provider-options-response.json': 'a speech exchange described by its audio body\'s size: speech bills the request\'s characters, not a usage object',
};

/** Not provider answers: the event-stream codec's test vectors and transcribed error reports. */
const NOT_ANSWERS = ['bedrock/eventstream-testvectors/', '_transcribed/', 'SOURCES.md'];

const OPENAI_WIRE = new Set(['openai', 'azure', 'groq', 'deepseek', 'xai', 'mistral', 'perplexity', 'cerebras', 'together', 'fireworks', 'openrouter']);

type Obj = Record<string, any>;

/** What the raw recording says, by its vendor's rule. */
interface Expected {
  /** The vendor's total: every token it bills, once. */
  total: number;
  /** The vendor's own total field, when it sends one. */
  vendorTotal?: number;
  cacheRead: number;
  cacheWrite5m: number;
  cacheWrite1h: number;
  reasoning: number;
  audioInput: number;
  imageInput: number;
  audioOutput: number;
  imageOutput: number;
  serviceTier?: string;
  units?: Record<string, number>;
}

const ZERO = { cacheRead: 0, cacheWrite5m: 0, cacheWrite1h: 0, reasoning: 0, audioInput: 0, imageInput: 0, audioOutput: 0, imageOutput: 0 };

function recordings(): string[] {
  const out: string[] = [];
  const walk = (rel: string) => {
    for (const name of readdirSync(new URL(rel, ROOT)).sort()) {
      const path = rel + name;
      if (NOT_ANSWERS.some((skip) => path === skip || path.startsWith(skip) || `${path}/` === skip)) continue;
      if (statSync(new URL(path, ROOT)).isDirectory()) walk(`${path}/`);
      else out.push(path);
    }
  };
  walk('');
  return out;
}

function operationOf(file: string): Operation {
  if (file.includes('embedding')) return 'embeddings';
  if (file.includes('reranking')) return 'rerank';
  if (file.includes('-tts-')) return 'audio_speech';
  if (file.includes('transcription')) return 'audio_transcription';
  if (file.includes('openai-image')) return 'images';
  if (file.includes('completion-text')) return 'text_completion';
  return 'chat';
}

/** The recording's payloads: one body, or every streamed event in order. */
function payloads(file: string): Obj[] {
  if (!file.endsWith('.chunks.txt')) return [fixtureJson(file)];
  return chunkLines(file).map((line) => JSON.parse(line) as Obj);
}

// ---- the vendors' rules, read off the raw recording ------------------------------------------

const n = (v: unknown): number => (typeof v === 'number' ? v : 0);
const modality = (list: unknown, m: string): number => (Array.isArray(list) ? list.filter((d) => d?.modality === m).reduce((s, d) => s + n(d.tokenCount), 0) : 0);

function expectedOpenAI(provider: string, file: string, events: Obj[]): Expected | null {
  const operation = operationOf(file);
  // Streams: usage on the last chunk that carries it (Perplexity restates it on every chunk, the
  // cerebras recording holds two answers: the last one is what a stream reader keeps).
  let holder: Obj | null = null;
  let usage: Obj | null = null;
  for (const e of events) {
    const u = e.usage ?? e.x_groq?.usage ?? e.response?.usage;
    if (u && typeof u === 'object') {
      usage = u;
      holder = e.usage === undefined && e.response ? e.response : e;
    }
  }
  const body = events[0]!;
  if (operation === 'images' && !usage) {
    // dall-e answers carry no usage: the images are the billed units.
    return Array.isArray(body.data) && body.data.length > 0 ? { total: 0, ...ZERO, units: { image: body.data.length } } : null;
  }
  if (!usage || !holder) return null;
  if (usage.type === 'duration') return { total: 0, ...ZERO, units: { audio_second: Math.ceil(usage.seconds) } };
  const serviceTier = typeof holder.service_tier === 'string' ? holder.service_tier : undefined;
  if (usage.input_tokens !== undefined) {
    // Responses API (and gpt-image / gpt-4o-transcribe): input_tokens / output_tokens.
    return {
      total: usage.input_tokens + n(usage.output_tokens),
      vendorTotal: usage.total_tokens,
      ...ZERO,
      cacheRead: n(usage.input_tokens_details?.cached_tokens),
      reasoning: n(usage.output_tokens_details?.reasoning_tokens),
      serviceTier,
    };
  }
  const inDetails = usage.prompt_tokens_details ?? {};
  const outDetails = usage.completion_tokens_details ?? {};
  const reasoning = n(outDetails.reasoning_tokens);
  // Embeddings and rerank bill their input only.
  const embeddings = operation === 'embeddings' || operation === 'rerank';
  // xAI reports reasoning tokens beside completion_tokens (xai-text.json: 12 + 1 + 228 = 241 total).
  const completion = embeddings ? 0 : n(usage.completion_tokens) + (provider === 'xai' ? reasoning : 0);
  return {
    total: usage.prompt_tokens + completion,
    vendorTotal: usage.total_tokens,
    cacheRead: n(inDetails.cached_tokens ?? usage.prompt_cache_hit_tokens),
    cacheWrite5m: 0,
    cacheWrite1h: 0,
    reasoning: embeddings ? 0 : reasoning,
    audioInput: n(inDetails.audio_tokens),
    imageInput: n(inDetails.image_tokens),
    audioOutput: embeddings ? 0 : n(outDetails.audio_tokens),
    imageOutput: 0,
    serviceTier,
  };
}

function expectedAnthropic(events: Obj[]): Expected | null {
  // message_start's usage, then each message_delta's: cumulative, the latest value of each field wins.
  const u: Obj = {};
  let seen = false;
  for (const e of events) {
    const usage = e.type === 'message' ? e.usage : e.type === 'message_start' ? e.message?.usage : e.type === 'message_delta' ? e.usage : null;
    if (!usage) continue;
    seen = true;
    for (const [k, v] of Object.entries(usage)) if (v !== null && v !== undefined) u[k] = v;
  }
  if (!seen) return null;
  const writes = n(u.cache_creation_input_tokens);
  // The TTL split, when sent, must account for every write; without one, writes are 5-minute ones.
  const split = u.cache_creation ? { m5: n(u.cache_creation.ephemeral_5m_input_tokens), h1: n(u.cache_creation.ephemeral_1h_input_tokens) } : { m5: writes, h1: 0 };
  assert.equal(split.m5 + split.h1, writes, 'the recording splits all its cache writes by TTL');
  return {
    total: n(u.input_tokens) + writes + n(u.cache_read_input_tokens) + n(u.output_tokens),
    ...ZERO,
    cacheRead: n(u.cache_read_input_tokens),
    cacheWrite5m: split.m5,
    cacheWrite1h: split.h1,
    reasoning: n(u.output_tokens_details?.thinking_tokens),
    serviceTier: u.service_tier,
    units: n(u.server_tool_use?.web_search_requests) > 0 ? { web_search_call: u.server_tool_use.web_search_requests } : undefined,
  };
}

function expectedGemini(events: Obj[]): Expected | null {
  // Every streamed chunk carries the running usageMetadata: the last one with counts counts.
  const m = events.map((e) => e.usageMetadata).filter((u) => typeof u?.promptTokenCount === 'number').at(-1);
  if (!m) return null;
  const uncached = (mod: string) => modality(m.promptTokensDetails, mod) + modality(m.toolUsePromptTokensDetails, mod) - modality(m.cacheTokensDetails, mod);
  return {
    total: m.promptTokenCount + n(m.toolUsePromptTokenCount) + n(m.candidatesTokenCount) + n(m.thoughtsTokenCount),
    vendorTotal: m.totalTokenCount,
    ...ZERO,
    cacheRead: n(m.cachedContentTokenCount),
    reasoning: n(m.thoughtsTokenCount),
    audioInput: uncached('AUDIO'),
    imageInput: uncached('IMAGE'),
    audioOutput: modality(m.candidatesTokensDetails, 'AUDIO'),
    imageOutput: modality(m.candidatesTokensDetails, 'IMAGE'),
  };
}

function expectedBedrock(events: Obj[]): Expected | null {
  // Converse: the body's usage; ConverseStream: the final metadata event's.
  const u = events.map((e) => e.usage ?? e.metadata?.usage).filter(Boolean).at(-1);
  if (!u) return null;
  const details: Obj[] = Array.isArray(u.cacheDetails) ? u.cacheDetails : [];
  const h1 = details.filter((d) => d.ttl === '1h').reduce((s, d) => s + d.inputTokens, 0);
  return {
    total: u.inputTokens + n(u.cacheReadInputTokens) + n(u.cacheWriteInputTokens) + n(u.outputTokens),
    vendorTotal: u.totalTokens,
    ...ZERO,
    cacheRead: n(u.cacheReadInputTokens),
    cacheWrite5m: n(u.cacheWriteInputTokens) - h1,
    cacheWrite1h: h1,
  };
}

function expectedCohere(file: string, events: Obj[]): Expected | null {
  // Cohere bills billed_units (not `tokens`, whose cached_tokens belong to that other count).
  const holder = events.map((e) => e.usage ?? e.meta ?? (e.type === 'message-end' ? e.delta?.usage : undefined)).filter(Boolean).at(-1);
  const billed = holder?.billed_units;
  if (!billed) return null;
  const embeddings = operationOf(file) === 'embeddings';
  return {
    total: n(billed.input_tokens) + (embeddings ? 0 : n(billed.output_tokens)),
    ...ZERO,
    units: n(billed.search_units) > 0 ? { search: billed.search_units } : undefined,
  };
}

function expected(provider: string, file: string): Expected | null {
  const events = payloads(file);
  if (OPENAI_WIRE.has(provider)) return expectedOpenAI(provider, file, events);
  if (provider === 'anthropic') return expectedAnthropic(events);
  if (provider === 'gemini') return expectedGemini(events);
  if (provider === 'bedrock') return expectedBedrock(events);
  if (provider === 'cohere') return expectedCohere(file, events);
  throw new Error(`no vendor rule for ${provider} (${file})`);
}

// ---- the adapters' reading -------------------------------------------------------------------

function targetFor(provider: string): Target {
  const record = loadTestCatalog().provider(provider);
  assert.ok(record, `the catalog knows provider '${provider}'`);
  return { provider: record, model: null, upstreamModel: 'recorded-model', baseUrl: '', weight: 1, credential: { id: 'test', secret: null, apiVersion: null } } as unknown as Target;
}

function upstreamBytes(provider: string, file: string): Buffer[] {
  if (!file.endsWith('.chunks.txt')) return [fixtureBytes(file)];
  if (provider === 'bedrock') return recordedFrames(file);
  const lines = chunkLines(file);
  const responsesApi = lines.some((l) => l.startsWith('{"type":"response.'));
  const frames = sseFrames(lines, { eventFromType: provider === 'anthropic' || provider === 'cohere' || responsesApi, done: OPENAI_WIRE.has(provider) && !responsesApi });
  return frames.map((f) => Buffer.from(f));
}

function contentType(provider: string, file: string): string {
  if (!file.endsWith('.chunks.txt')) return 'application/json';
  return provider === 'bedrock' ? 'application/vnd.amazon.eventstream' : 'text/event-stream';
}

/** The passthrough's reading: the adapter's tap over the upstream's bytes. */
function tapUsage(provider: string, file: string): Usage | null {
  const adapter = createAdapter(targetFor(provider));
  const tap = adapter.tap({ operation: operationOf(file), upstreamModel: 'recorded-model', stream: file.endsWith('.chunks.txt') }, contentType(provider, file));
  for (const chunk of upstreamBytes(provider, file)) tap.push(chunk);
  return tap.finish().usage;
}

/** The unified API's reading: the adapter's translation of the answer (chat and Responses only). */
function unifiedUsage(provider: string, file: string): Usage | null | undefined {
  const operation = operationOf(file);
  if (operation !== 'chat') return undefined;
  const target = targetFor(provider);
  const events = payloads(file);
  const responsesApi = events.some((e) => e.object === 'response' || String(e.type).startsWith('response.'));
  const adapter: ProviderAdapter = responsesApi ? responsesNative(target) : createAdapter(target);
  const stream = file.endsWith('.chunks.txt');
  const request = adapter.request('chat', { model: 'recorded-model', messages: [{ role: 'user', content: 'hi' }], stream, ...(stream ? { stream_options: { include_usage: true } } : {}) });
  const bytes = upstreamBytes(provider, file);
  if (!stream) return adapter.response('chat', bytes[0]!, request.context).usage;
  const translator: StreamTranslator = adapter.stream('chat', request.context);
  for (const chunk of bytes) translator.push(chunk);
  translator.finish();
  return translator.usage;
}

// ---- the checks ------------------------------------------------------------------------------

function checkAgainst(usage: Usage | null, want: Expected, file: string): void {
  assert.ok(usage, `${file}: the adapter reads a usage`);
  assert.equal(usage.source, 'reported');
  const classes = classesOf(usage);
  for (const [cls, count] of Object.entries(classes)) {
    assert.ok(Number.isSafeInteger(count) && count >= 0, `${file}: class ${cls} is a whole count ≥ 0 (got ${count})`);
  }
  const sum = Object.values(classes).reduce((a, b) => a + b, 0);
  assert.equal(sum, want.total, `${file}: the classes sum to the vendor's total`);
  if (want.vendorTotal !== undefined) assert.equal(want.total, want.vendorTotal, `${file}: the vendor's rule gives its own total field`);
  assert.deepEqual(
    { cache_read: classes.cache_read, cache_write_5m: classes.cache_write_5m, cache_write_1h: classes.cache_write_1h, reasoning: classes.reasoning, audio_input: classes.audio_input, image_input: classes.image_input, audio_output: classes.audio_output, image_output: classes.image_output },
    { cache_read: want.cacheRead, cache_write_5m: want.cacheWrite5m, cache_write_1h: want.cacheWrite1h, reasoning: want.reasoning, audio_input: want.audioInput, image_input: want.imageInput, audio_output: want.audioOutput, image_output: want.imageOutput },
    `${file}: the finer classes are the recording's fields`,
  );
  assert.equal(usage.service_tier, want.serviceTier, `${file}: the served tier as the recording reports it`);
  assert.deepEqual(usage.units ?? {}, want.units ?? {}, `${file}: the non-token units`);
}

describe('token classes from every recording: each token counted once, none lost', () => {
  const files = recordings();
  test('the walk finds every provider\'s recordings', () => {
    const providers = new Set(files.map((f) => f.split('/')[0]));
    for (const p of ['anthropic', 'azure', 'bedrock', 'cerebras', 'cohere', 'deepseek', 'gemini', 'groq', 'mistral', 'openai', 'perplexity', 'xai']) assert.ok(providers.has(p), p);
    assert.ok(files.length >= 77, `found ${files.length}`);
  });

  for (const file of files) {
    const provider = file.split('/')[0]!;
    const skipped = NO_USAGE[file];
    if (skipped !== undefined) {
      test(`${file}: skipped, no usage (${skipped})`, () => {
        assert.equal(expected(provider, file), null, 'a skipped recording really carries no usage');
      });
      continue;
    }
    test(file, () => {
      const want = expected(provider, file);
      assert.ok(want, `${file} carries usage (or name it in NO_USAGE with the reason)`);
      checkAgainst(tapUsage(provider, file), want, `${file} (passthrough)`);
      const unified = unifiedUsage(provider, file);
      if (unified !== undefined) checkAgainst(unified, want, `${file} (unified)`);
    });
  }

  test('the recordings exercise cache reads, reasoning, served tiers and units (cache writes, audio, image tokens: usage-fields.test.ts)', () => {
    const seen = new Set<string>();
    for (const file of files) {
      if (NO_USAGE[file] !== undefined) continue;
      const want = expected(file.split('/')[0]!, file)!;
      if (want.cacheRead > 0) seen.add('cache_read');
      if (want.reasoning > 0) seen.add('reasoning');
      if (want.serviceTier !== undefined) seen.add('service_tier');
      for (const unit of Object.keys(want.units ?? {})) seen.add(`unit:${unit}`);
    }
    for (const kind of ['cache_read', 'reasoning', 'service_tier', 'unit:audio_second', 'unit:image']) assert.ok(seen.has(kind), kind);
  });
});
