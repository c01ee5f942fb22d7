/**
 * The Responses API on a provider that serves it: OpenAI, Azure OpenAI (at /openai/v1/responses, or
 * /openai/responses?api-version=… for a credential with an api_version), and every OpenAI-wire
 * vendor whose documented paths (the catalog's passthrough_paths) list `/responses`. The caller's
 * body goes as it is but for `model` (the catalog's upstream name or Azure deployment), and the
 * answer comes back byte for byte. Usage is read on the way: the Response's `usage`, or in a stream
 * the response.completed / response.incomplete / response.failed event's.
 */
import type { OpenAICompat } from '../../catalog/types.ts';
import { GatewayError } from '../../errors/catalog.ts';
import type { Usage } from '../../metering/usage.ts';
import type { Target } from '../../routing/target.ts';
import type { ProviderAdapter, StreamOutcome, StreamTranslator } from '../contract.ts';
import { usageOfAnswer } from '../openai-compatible/usage.ts';
import { createSseReader, sseEvent } from '../sse.ts';
import { parseEvent, parseUpstreamJson } from '../unified/completion.ts';
import { createAdapter } from '../registry.ts';

/** Catalog data, no vendor list: an OpenAI-wire provider serves POST /responses when its paths list it. */
export function servesResponses(target: Target): boolean {
  const { api, passthrough_paths } = target.provider;
  return (api === 'openai' || api === 'azure') && passthrough_paths.includes('/responses');
}

/**
 * A Response's output_tokens include the reasoning ones (OpenAI's definition, and xAI's too:
 * xai-text-streaming.1.chunks.txt, total = input + output), even where the vendor's chat usage
 * leaves them out (`reasoning_tokens_separate`, xAI's chat completions): that switch is off here.
 */
function responsesCompat(target: Target): OpenAICompat | null {
  const compat = target.provider.openai_compat;
  return compat && { ...compat, reasoning_tokens_separate: false };
}

export function responsesNative(target: Target): ProviderAdapter {
  const inner = createAdapter(target);
  const compat = responsesCompat(target);
  const apiVersion = target.credential.apiVersion;
  const path = target.provider.name === 'azure' && apiVersion !== null ? `/responses?api-version=${encodeURIComponent(apiVersion)}` : target.provider.name === 'azure' ? '/v1/responses' : '/responses';
  return {
    ...inner,
    request: (_operation, body) => ({
      method: 'POST',
      path,
      headers: { 'content-type': 'application/json', accept: body.stream === true ? 'text/event-stream' : 'application/json' },
      body: JSON.stringify({ ...body, model: target.upstreamModel }),
      context: null,
    }),
    response: (_operation, raw) => ({ body: raw, usage: usageOfAnswer(parseUpstreamJson(target, raw), compat) }),
    stream: () => new ResponsesRelay(compat),
  };
}

/** The provider's Responses stream relayed as it is, its usage and end read from its events. */
class ResponsesRelay implements StreamTranslator {
  usage: Usage | null = null;
  outcome: StreamOutcome | null = null;
  generatedChars = 0;
  readonly #compat: OpenAICompat | null;
  readonly #reader;

  constructor(compat: OpenAICompat | null) {
    this.#compat = compat;
    this.#reader = createSseReader((e) => this.#onEvent(e.data, e.event));
  }

  push(chunk: Uint8Array): Uint8Array {
    this.#reader.push(chunk);
    return chunk;
  }

  finish(): string {
    this.#reader.end();
    if (this.outcome !== null) return '';
    this.outcome = 'truncated';
    const err = new GatewayError('upstream_stream_truncated', 'The upstream stream ended before the response was complete.');
    return sseEvent(JSON.stringify({ type: 'error', error: { type: err.type, code: err.code, message: err.message, param: null } }), 'error');
  }

  #onEvent(data: string, event: string | undefined): void {
    if (this.outcome !== null) return;
    const e = parseEvent(data);
    const type = e?.type ?? event;
    if (type === 'response.output_text.delta' || type === 'response.function_call_arguments.delta') {
      this.generatedChars += typeof e?.delta === 'string' ? e.delta.length : 0;
      return;
    }
    if (type === 'response.completed' || type === 'response.incomplete' || type === 'response.failed') {
      const usage = e ? usageOfAnswer(e, this.#compat) : null;
      if (usage) this.usage = usage;
      this.outcome = type === 'response.failed' ? 'error' : 'complete';
    } else if (type === 'error') this.outcome = 'error';
  }
}
