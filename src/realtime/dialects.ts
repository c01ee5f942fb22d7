/**
 * The realtime APIs the sidecar relays, as data: where each lives (below the provider's base URL),
 * where it names its model, and how its server frames report usage. A path that is not here is
 * never upgraded, even if the provider's passthrough_paths list it.
 *
 * Metering unit (one charge per provider-reported usage, each with its own run credit):
 *   - OpenAI Realtime: one charge per `response.done`, from `response.usage` (input/output token
 *     details: cached, audio). Recording: test/fixtures/realtime/openai-realtime-ga.jsonl.
 *   - Gemini Live: one charge per turn, at `serverContent.turnComplete`, from the latest
 *     `usageMetadata` of that turn (the Live API sends it on the turnComplete message).
 */
import { reported, tokenCount, type Usage } from '../metering/usage.ts';
import { usageFromGemini } from '../providers/gemini/usage.ts';

/** What a server message meant for metering. */
export type ServerEvent =
  /** A turn (response) began: from here until its usage, tokens may be spent. */
  | { kind: 'turn_started' }
  /** Output that reached the client, for an estimate should the usage never come. */
  | { kind: 'output'; chars: number }
  /** Usage seen; `final`: the turn it belongs to has ended, charge it now. */
  | { kind: 'usage'; usage: Usage; final: boolean }
  /** The turn ended and said nothing about usage: it cannot be metered exactly. */
  | { kind: 'turn_ended_without_usage' }
  | { kind: 'none' };

export interface RealtimeDialect {
  name: 'openai-realtime' | 'gemini-live';
  /** The provider's wire (catalog `api`). */
  api: string;
  /** Whether `path` (below the base URL, decoded) is this API's socket. */
  matches(path: string): boolean;
  /** The model named at the upgrade (query), if this API names it there. */
  modelFromQuery(query: URLSearchParams): string | null;
  /** The model named in a client message (Gemini's `setup`), if this one names it. */
  modelFromClientMessage(message: unknown): string | null;
  /** Whether the session may not start before the client's first message names the model. */
  modelInFirstMessage: boolean;
  /** Reads one server message (parsed JSON). */
  serverEvent(message: unknown): ServerEvent[];
}

type Json = Record<string, unknown>;
const obj = (v: unknown): Json | null => (typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Json) : null);
const num = (v: unknown): number => tokenCount(v);

/** OpenAI Realtime usage (response.done → response.usage) in the meter's shape. */
export function usageFromOpenAIRealtime(raw: unknown): Usage | null {
  const u = obj(raw);
  if (!u || typeof u.input_tokens !== 'number' || typeof u.output_tokens !== 'number') return null;
  const input = obj(u.input_token_details) ?? {};
  const cachedDetails = obj(input.cached_tokens_details) ?? {};
  const output = obj(u.output_token_details) ?? {};
  const usage = reported(u.input_tokens, u.output_tokens, num(input.cached_tokens));
  // The audio/image counts include their cached part (recording: audio 73 of which 64 cached).
  const audioIn = num(input.audio_tokens) - num(cachedDetails.audio_tokens);
  const imageIn = num(input.image_tokens) - num(cachedDetails.image_tokens);
  if (audioIn > 0) usage.audio_input_tokens = audioIn;
  if (imageIn > 0) usage.image_input_tokens = imageIn;
  if (num(output.audio_tokens) > 0) usage.audio_output_tokens = num(output.audio_tokens);
  return usage;
}

/** Gemini Live usageMetadata (responseTokenCount, modality details) in the meter's shape. */
export function usageFromGeminiLive(raw: unknown): Usage | null {
  const m = obj(raw);
  if (!m) return null;
  // The Live API spells the output count responseTokenCount (generateContent: candidatesTokenCount).
  const usage = usageFromGemini({ ...m, promptTokenCount: m.promptTokenCount ?? (m.responseTokenCount !== undefined ? 0 : undefined), candidatesTokenCount: m.candidatesTokenCount ?? m.responseTokenCount } as never);
  if (!usage) return null;
  const audio = (details: unknown) => (Array.isArray(details) ? details : []).reduce((n, d) => n + (obj(d)?.modality === 'AUDIO' ? num(obj(d)!.tokenCount) : 0), 0);
  const audioIn = audio(m.promptTokensDetails) - audio(m.cacheTokensDetails);
  if (audioIn > 0) usage.audio_input_tokens = audioIn;
  const audioOut = audio(m.responseTokensDetails);
  if (audioOut > 0) usage.audio_output_tokens = audioOut;
  return usage;
}

const OPENAI_OUTPUT_DELTAS = new Set([
  'response.text.delta',
  'response.output_text.delta',
  'response.audio_transcript.delta',
  'response.output_audio_transcript.delta',
  'response.function_call_arguments.delta',
]);

export const openAIRealtime: RealtimeDialect = {
  name: 'openai-realtime',
  api: 'openai',
  matches: (path) => path === '/realtime',
  modelFromQuery: (query) => query.get('model'),
  modelFromClientMessage: () => null,
  modelInFirstMessage: false,
  serverEvent(message) {
    const m = obj(message);
    switch (m?.type) {
      case 'response.created':
        return [{ kind: 'turn_started' }];
      case 'response.done': {
        const usage = usageFromOpenAIRealtime(obj(m.response)?.usage);
        return [usage ? { kind: 'usage', usage, final: true } : { kind: 'turn_ended_without_usage' }];
      }
      default:
        if (typeof m?.type === 'string' && OPENAI_OUTPUT_DELTAS.has(m.type) && typeof m.delta === 'string') return [{ kind: 'output', chars: m.delta.length }];
        return [{ kind: 'none' }];
    }
  },
};

const GEMINI_LIVE_PATH = /^\/(v1alpha|v1beta)\/?$/;

export const geminiLive: RealtimeDialect = {
  name: 'gemini-live',
  api: 'gemini',
  matches: (path) => {
    const prefix = '/ws/google.ai.generativelanguage.';
    const suffix = '.GenerativeService.BidiGenerateContent';
    return path.startsWith(prefix) && path.endsWith(suffix) && GEMINI_LIVE_PATH.test(`/${path.slice(prefix.length, -suffix.length)}`);
  },
  modelFromQuery: () => null,
  modelFromClientMessage(message) {
    const model = obj(obj(message)?.setup)?.model;
    return typeof model === 'string' ? model.replace(/^models\//, '') : null;
  },
  modelInFirstMessage: true,
  serverEvent(message) {
    const m = obj(message);
    if (!m) return [{ kind: 'none' }];
    const events: ServerEvent[] = [];
    const content = obj(m.serverContent);
    if (content?.modelTurn || m.toolCall) events.push({ kind: 'turn_started' });
    const transcript = obj(content?.outputTranscription)?.text;
    if (typeof transcript === 'string') events.push({ kind: 'output', chars: transcript.length });
    for (const part of (Array.isArray(obj(content?.modelTurn)?.parts) ? (obj(content!.modelTurn)!.parts as unknown[]) : [])) {
      const text = obj(part)?.text;
      if (typeof text === 'string') events.push({ kind: 'output', chars: text.length });
    }
    const ended = content?.turnComplete === true;
    if (m.usageMetadata !== undefined) {
      const usage = usageFromGeminiLive(m.usageMetadata);
      if (usage) events.push({ kind: 'usage', usage, final: ended });
      else if (ended) events.push({ kind: 'turn_ended_without_usage' });
    } else if (ended) {
      events.push({ kind: 'turn_ended_without_usage' });
    }
    return events.length > 0 ? events : [{ kind: 'none' }];
  },
};

const DIALECTS: readonly RealtimeDialect[] = [openAIRealtime, geminiLive];

/** The realtime API at `path` (below the base URL, decoded) of a provider speaking `api`, if any. */
export function realtimeDialect(api: string, path: string): RealtimeDialect | null {
  return DIALECTS.find((d) => d.api === api && d.matches(path)) ?? null;
}
