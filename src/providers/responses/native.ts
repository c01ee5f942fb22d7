/**
 * The Responses API on a provider that serves it (OpenAI; Azure OpenAI at /openai/v1/responses,
 * or /openai/responses?api-version=… for a credential with an api_version): the caller's body goes
 * as it is but for `model` (the catalog's upstream name or Azure deployment), and the answer comes
 * back byte for byte. Usage is read on the way: the Response's `usage`, or in a stream the
 * response.completed / response.incomplete / response.failed event's.
 */
import { GatewayError } from '../../errors/catalog.ts';
import type { Usage } from '../../metering/usage.ts';
import type { Target } from '../../routing/target.ts';
import type { ProviderAdapter, StreamOutcome, StreamTranslator } from '../contract.ts';
import { usageOfAnswer } from '../openai-compatible/usage.ts';
import { createSseReader, sseEvent } from '../sse.ts';
import { parseEvent, parseUpstreamJson } from '../unified/completion.ts';
import { createAdapter } from '../registry.ts';

/** Providers whose docs say they serve POST /responses. */
export function servesResponses(target: Target): boolean {
  return target.provider.name === 'openai' || target.provider.name === 'azure';
}

export function responsesNative(target: Target): ProviderAdapter {
  const inner = createAdapter(target);
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
    response: (_operation, raw) => ({ body: raw, usage: usageOfAnswer(parseUpstreamJson(target, raw), target.provider.openai_compat) }),
    stream: () => new ResponsesRelay(target),
  };
}

/** The provider's Responses stream relayed as it is, its usage and end read from its events. */
class ResponsesRelay implements StreamTranslator {
  usage: Usage | null = null;
  outcome: StreamOutcome | null = null;
  generatedChars = 0;
  readonly #target: Target;
  readonly #reader;

  constructor(target: Target) {
    this.#target = target;
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
      const usage = e ? usageOfAnswer(e, this.#target.provider.openai_compat) : null;
      if (usage) this.usage = usage;
      this.outcome = type === 'response.failed' ? 'error' : 'complete';
    } else if (type === 'error') this.outcome = 'error';
  }
}
