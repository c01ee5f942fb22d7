/**
 * OpenAI-shaped usage objects, as every OpenAI-compatible vendor varies them, → Usage. Prompt tokens
 * include the cached ones (DeepSeek: prompt_cache_hit_tokens) and the audio/image ones; completion
 * tokens include reasoning (xAI's chat usage reports it beside them: `reasoning_tokens_separate`)
 * and audio/image output. The Images API bills gpt-image tokens by kind
 * (input_tokens_details.text_tokens / image_tokens; its output is image tokens), transcription
 * bills by the second (`usage: {type: "duration", seconds}`, openai-transcription.json) or by
 * tokens (`type: "tokens"`, audio in input_token_details). The answer's top-level `service_tier` is
 * the tier that served it (openai-text.json: "default"; Groq: "on_demand"), and a Responses answer's
 * `web_search_call` output items are the searches it ran.
 */
import type { OpenAICompat, Operation } from '../../catalog/types.ts';
import { tokenCount, type Usage } from '../../metering/usage.ts';
import { usageFromParts } from '../usage-classes.ts';

interface Details {
  cached_tokens?: unknown;
  audio_tokens?: unknown;
  image_tokens?: unknown;
  reasoning_tokens?: unknown;
  /** Realtime-style split of the cached tokens by kind. */
  cached_tokens_details?: { audio_tokens?: unknown; image_tokens?: unknown } | null;
}

interface OpenAIUsage {
  /** Transcription: `duration` (with seconds) or `tokens`. */
  type?: unknown;
  seconds?: unknown;
  prompt_tokens?: unknown;
  completion_tokens?: unknown;
  // Images, transcription and the Responses API say input/output.
  input_tokens?: unknown;
  output_tokens?: unknown;
  prompt_tokens_details?: Details | null;
  input_tokens_details?: Details | null;
  /** Transcription's spelling (token, singular). */
  input_token_details?: Details | null;
  completion_tokens_details?: Details | null;
  output_tokens_details?: Details | null;
  /** DeepSeek's name for cached input. */
  prompt_cache_hit_tokens?: unknown;
}

/** What the answer around the usage object says: the tier that served it and the non-token units. */
export interface Served {
  serviceTier?: unknown;
  units?: Record<string, number>;
}

/** A usage object → Usage; `operation` says how to read it (embeddings bill no output, images' output is image tokens). */
export function usageFromOpenAI(value: unknown, compat: OpenAICompat | null, operation: Operation = 'chat', served: Served = {}): Usage | null {
  const noUsage = (): Usage | null => (served.units && Object.keys(served.units).length > 0 ? usageFromParts({ prompt: 0, completion: 0, ...partsOf(served) }) : null);
  if (typeof value !== 'object' || value === null) return noUsage();
  const u = value as OpenAIUsage;
  if (u.type === 'duration') {
    return usageFromParts({ prompt: 0, completion: 0, ...partsOf(served, { audio_second: tokenCount(u.seconds) }) });
  }
  const promptValue = u.prompt_tokens ?? u.input_tokens;
  if (typeof promptValue !== 'number') return noUsage();
  const inDetails = u.prompt_tokens_details ?? u.input_tokens_details ?? u.input_token_details ?? {};
  const outDetails = u.completion_tokens_details ?? u.output_tokens_details ?? {};
  const cached = tokenCount(inDetails.cached_tokens ?? u.prompt_cache_hit_tokens);
  const cachedKinds = inDetails.cached_tokens_details ?? {};
  const prompt = tokenCount(promptValue);
  // Embeddings and rerank (Together's) report input tokens only.
  if (operation === 'embeddings' || operation === 'rerank') return usageFromParts({ prompt, completion: 0, cacheRead: cached, ...partsOf(served) });
  const reasoning = tokenCount(outDetails.reasoning_tokens);
  let completion = tokenCount(u.completion_tokens ?? u.output_tokens);
  // The switch is about chat usage (xai-text.json: total = prompt + completion + reasoning); a
  // Response's output_tokens hold the reasoning (xai-text-streaming.1.chunks.txt: total = input + output).
  if (compat?.reasoning_tokens_separate && u.completion_tokens !== undefined) completion = tokenCount(completion + reasoning);
  // gpt-image output is image tokens; only a newer answer splits it (output_tokens_details).
  const imageOutput = operation === 'images' && outDetails.image_tokens === undefined ? completion : tokenCount(outDetails.image_tokens);
  return usageFromParts({
    prompt,
    completion,
    cacheRead: cached,
    audioInput: uncached(inDetails.audio_tokens, cachedKinds.audio_tokens),
    imageInput: uncached(inDetails.image_tokens, cachedKinds.image_tokens),
    reasoning,
    audioOutput: tokenCount(outDetails.audio_tokens),
    imageOutput,
    ...partsOf(served),
  });
}

function uncached(all: unknown, cached: unknown): number {
  return Math.max(0, tokenCount(all) - tokenCount(cached));
}

function partsOf(served: Served, more: Record<string, number> = {}): { serviceTier?: unknown; units: Record<string, number> } {
  return { serviceTier: served.serviceTier, units: { ...served.units, ...more } };
}

/** The usage a chunk or body carries: top level, Groq's x_groq, or the Responses API's response. */
export function usageField(obj: Record<string, unknown>): unknown {
  return obj.usage ?? (obj.x_groq as { usage?: unknown } | undefined)?.usage ?? (obj.response as { usage?: unknown } | undefined)?.usage;
}

/**
 * The usage of a parsed answer: a chat completion, a chunk, a Response or a Responses stream event
 * (response.completed carries the Response). Beside the usage object it reads the served tier and
 * the web searches a Response ran (its `web_search_call` output items).
 */
export function usageOfAnswer(obj: Record<string, unknown>, compat: OpenAICompat | null, operation: Operation = 'chat'): Usage | null {
  const response = typeof obj.response === 'object' && obj.response !== null ? (obj.response as Record<string, unknown>) : null;
  const holder = obj.usage === undefined && response ? response : obj;
  const units: Record<string, number> = {};
  const searches = Array.isArray(holder.output) ? holder.output.filter((item) => (item as { type?: unknown } | null)?.type === 'web_search_call').length : 0;
  if (searches > 0) units.web_search_call = searches;
  if (operation === 'images' && Array.isArray(holder.data)) Object.assign(units, imageUnits(holder.data.length, holder.size, holder.quality));
  return usageFromOpenAI(usageField(obj), compat, operation, { serviceTier: holder.service_tier, units });
}

/** Images by catalog unit name: `image:<size>:<quality>` when the answer says both (gpt-image), else `image`. */
function imageUnits(count: number, size: unknown, quality: unknown): Record<string, number> {
  if (count <= 0) return {};
  const named = isVariantPart(size) && isVariantPart(quality);
  return { [named ? `image:${size}:${quality}` : 'image']: count };
}

function isVariantPart(value: unknown): value is string {
  return typeof value === 'string' && /^[\w.-]{1,32}$/.test(value);
}

/**
 * The image variant an images request asks for, as a unit-name suffix: `<size>:<quality>`, or
 * `<size>` when it names no quality; undefined without a size (a quality alone names no catalog
 * key). What the request leaves out is the model's default, priced by the catalog's shorter keys
 * (dall-e-3: `image` is 1024x1024 standard, `image:<size>` is standard).
 */
export function requestedImageVariant(body: Record<string, unknown>): string | undefined {
  if (!isVariantPart(body.size)) return undefined;
  return isVariantPart(body.quality) ? `${body.size}:${body.quality}` : body.size;
}

/**
 * Names an answer's plain `image` units by the variant its request asked for: a DALL·E answer does
 * not say its size or quality (openai-image.json: only `created` and `data`), its request does. An
 * answer that names its images (gpt-image) keeps its own names: it says what was served.
 */
export function withImageVariant(usage: Usage | null, variant: string | undefined): Usage | null {
  const plain = usage?.units?.image;
  if (usage === null || variant === undefined || plain === undefined) return usage;
  const { image: _, ...rest } = usage.units!;
  const named = `image:${variant}`;
  return { ...usage, units: { ...rest, [named]: (rest[named] ?? 0) + plain } };
}

const USAGE_KEY = /"usage"\s*:\s*\{/g;
const USAGE_NAME = '"usage"';

/**
 * The usage of a whole (non-streamed) body, reading only its `usage` object: decoding and parsing
 * the entire answer just for its last few fields showed up in the request profile. The key is
 * looked for from the end (where every vendor puts it) in the bytes, and only from there is text
 * decoded. Inside JSON strings every quote is escaped, so `"usage"` followed by a colon is always
 * a real key.
 */
export function usageOfBody(body: Buffer, compat: OpenAICompat | null, operation: Operation = 'chat'): Usage | null {
  const served = servedOfBody(body, operation);
  const at = body.lastIndexOf(USAGE_NAME);
  if (at === -1) return usageFromOpenAI(null, compat, operation, served);
  const tail = body.toString('utf8', at);
  const found = usageObjectAt(tail, 0) ?? usageObjectAt(body.toString('utf8'), null);
  if (found === null) return usageFromOpenAI(null, compat, operation, served);
  try {
    return usageFromOpenAI(JSON.parse(found), compat, operation, served);
  } catch {
    return null;
  }
}

const SERVICE_TIER = /^"service_tier"\s*:\s*"([^"\\]{1,64})"/;
const WEB_SEARCH_CALL = /"type"\s*:\s*"web_search_call"/g;
const IMAGE_ITEM = /"(?:b64_json|url)"\s*:/g;

/**
 * The tier and units of a whole body, read from its bytes as the usage is (keys are real keys: a
 * quote inside a string is escaped). Only a body that names a web search, or an images answer, is
 * decoded for them.
 */
function servedOfBody(body: Buffer, operation: Operation): Served {
  const units: Record<string, number> = {};
  const tierAt = body.lastIndexOf('"service_tier"');
  const serviceTier = tierAt === -1 ? undefined : SERVICE_TIER.exec(body.toString('utf8', tierAt, tierAt + 128))?.[1];
  if (body.includes('web_search_call')) {
    const searches = body.toString('utf8').match(WEB_SEARCH_CALL)?.length ?? 0;
    if (searches > 0) units.web_search_call = searches;
  }
  if (operation === 'images') {
    const text = body.toString('utf8');
    Object.assign(units, imageUnits(text.match(IMAGE_ITEM)?.length ?? 0, stringValue(text, 'size'), stringValue(text, 'quality')));
  }
  return { serviceTier, units };
}

function stringValue(text: string, key: string): string | undefined {
  return new RegExp(`"${key}"\\s*:\\s*"([^"\\\\]{1,32})"`).exec(text)?.[1];
}

/** The text of the `{…}` after a `"usage":` key at `at` (or the first such key, when null). */
function usageObjectAt(text: string, at: number | null): string | null {
  USAGE_KEY.lastIndex = at ?? 0;
  const match = USAGE_KEY.exec(text);
  if (!match || (at !== null && match.index !== at)) return null;
  const start = USAGE_KEY.lastIndex - 1;
  let depth = 0;
  for (let i = start; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 34) {
      for (i++; i < text.length && text.charCodeAt(i) !== 34; i += text.charCodeAt(i) === 92 ? 2 : 1);
    } else if (c === 123) depth++;
    else if (c === 125 && --depth === 0) return text.slice(start, i + 1);
  }
  return null;
}
