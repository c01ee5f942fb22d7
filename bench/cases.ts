/**
 * The benchmark cases. Each has the request a client sends to Tollbooth and the provider-native
 * request the same client sends straight to the fake upstream or through a bare proxy, plus a
 * check that an answer is what a client expects (so a fast error is never measured as a success).
 */
import { isTollbooth, type SubjectName } from './subjects/subject.ts';
import { CALLER_KEY } from './subjects/tollbooth.ts';

export interface HttpRequest {
  method: 'POST';
  path: string;
  headers: Record<string, string>;
  body: string;
}

export type CaseId = 'unified-chat' | 'unified-stream' | 'passthrough' | 'translated-stream';

export interface BenchCase {
  id: CaseId;
  title: string;
  stream: boolean;
  /** Sent to direct and to the baseline proxies: the provider's own API. */
  native: HttpRequest;
  /** Sent to Tollbooth, with the caller's Tollbooth key. */
  tollbooth: HttpRequest;
  /** What a client would object to in this answer, or null when it is fine. */
  check(subject: SubjectName, status: number, body: string): string | null;
}

const OPENAI_MODEL = 'gpt-6-luna';
const ANTHROPIC_MODEL = { catalog: 'claude-haiku-4.5', upstream: 'claude-haiku-4-5-20251001' };
const MESSAGES = [
  { role: 'system', content: 'You are a helpful assistant.' },
  { role: 'user', content: 'Invent a new holiday and describe its traditions.' },
];

const json = (path: string, headers: Record<string, string>, body: object): HttpRequest => ({
  method: 'POST',
  path,
  headers: { 'content-type': 'application/json', ...headers },
  body: JSON.stringify(body),
});

const callerAuth = { authorization: `Bearer ${CALLER_KEY}` };
// The bare proxies forward whatever key the client holds; give them the same header weight.
const providerAuth = { authorization: 'Bearer sk-bench-direct' };

function chatCompletion(_subject: SubjectName, status: number, body: string): string | null {
  if (status !== 200) return `status ${status}: ${body.slice(0, 300)}`;
  try {
    const parsed = JSON.parse(body) as { choices?: { message?: { content?: unknown } }[] };
    return typeof parsed.choices?.[0]?.message?.content === 'string' ? null : 'no choices[0].message.content';
  } catch {
    return `not JSON: ${body.slice(0, 200)}`;
  }
}

function openAIStream(_subject: SubjectName, status: number, body: string): string | null {
  if (status !== 200) return `status ${status}: ${body.slice(0, 300)}`;
  if (!body.includes('"chat.completion.chunk"')) return 'no chat.completion.chunk events';
  return body.endsWith('data: [DONE]\n\n') ? null : `does not end with data: [DONE] (…${JSON.stringify(body.slice(-120))})`;
}

export const CASES: BenchCase[] = [
  {
    id: 'unified-chat',
    title: 'unified chat → OpenAI-compatible, non-streaming',
    stream: false,
    native: json('/v1/chat/completions', providerAuth, { model: OPENAI_MODEL, messages: MESSAGES }),
    tollbooth: json('/v1/chat/completions', callerAuth, { model: OPENAI_MODEL, messages: MESSAGES }),
    check: chatCompletion,
  },
  {
    id: 'unified-stream',
    title: 'unified chat → OpenAI-compatible, streaming',
    stream: true,
    native: json('/v1/chat/completions', providerAuth, { model: OPENAI_MODEL, messages: MESSAGES, stream: true }),
    tollbooth: json('/v1/chat/completions', callerAuth, { model: OPENAI_MODEL, messages: MESSAGES, stream: true }),
    check: openAIStream,
  },
  {
    id: 'passthrough',
    title: 'native passthrough /openai/v1/chat/completions, non-streaming',
    stream: false,
    native: json('/v1/chat/completions', providerAuth, { model: OPENAI_MODEL, messages: MESSAGES }),
    tollbooth: json('/openai/v1/chat/completions', callerAuth, { model: OPENAI_MODEL, messages: MESSAGES }),
    check: chatCompletion,
  },
  {
    id: 'translated-stream',
    title: 'unified chat → Anthropic Messages, translated stream',
    stream: true,
    native: json(
      '/v1/messages',
      { 'x-api-key': 'sk-ant-bench-direct', 'anthropic-version': '2023-06-01' },
      { model: ANTHROPIC_MODEL.upstream, max_tokens: 1024, messages: MESSAGES.slice(1), system: MESSAGES[0]!.content, stream: true },
    ),
    tollbooth: json('/v1/chat/completions', callerAuth, { model: ANTHROPIC_MODEL.catalog, messages: MESSAGES, max_tokens: 1024, stream: true }),
    check(subject, status, body) {
      if (isTollbooth(subject)) return openAIStream(subject, status, body);
      if (status !== 200) return `status ${status}: ${body.slice(0, 300)}`;
      return body.includes('event: message_stop') ? null : 'no message_stop event';
    },
  },
];

/** Tollbooth answering that it cannot translate to this provider yet (no adapter registered). */
export function notAvailableYet(status: number, body: string): boolean {
  return status >= 400 && body.includes('operation_not_supported');
}
