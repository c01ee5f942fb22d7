/**
 * The Anthropic Messages adapter: the unified API translated to and from /v1/messages, and the
 * native passthrough (@anthropic-ai/sdk pointed at /anthropic) described and tapped for usage.
 * Credentials (x-api-key) and anthropic-version come from the catalog, not from here.
 */
import { GatewayError } from '../../errors/catalog.ts';
import { reported } from '../../metering/usage.ts';
import type { Target } from '../../routing/target.ts';
import { jsonBodyTap } from '../body-tap.ts';
import type { NativeRequestInfo, ProviderAdapter } from '../contract.ts';
import { upstreamError } from '../upstream-error.ts';
import { parseUpstreamJson } from '../unified/completion.ts';
import { wantsStreamUsage } from '../unified/request-fields.ts';
import { streamTap } from '../unified/translated-stream.ts';
import { messagesRequest } from './request.ts';
import { completionFromMessage } from './response.ts';
import { AnthropicStream } from './stream.ts';
import { usageFromAnthropic } from './usage.ts';

/** What an Anthropic answer's translation needs from its request. */
interface AnthropicContext {
  /** The caller asked for a usage chunk (stream_options.include_usage). */
  includeUsage: boolean;
}

export function createAnthropicAdapter(target: Target): ProviderAdapter<AnthropicContext> {
  return {
    request(operation, body) {
      if (operation !== 'chat') {
        throw new GatewayError('operation_not_supported', `Anthropic serves chat only, not ${operation}.`, { param: 'model' });
      }
      const stream = body.stream === true;
      return {
        method: 'POST',
        path: '/messages',
        headers: { 'content-type': 'application/json', accept: stream ? 'text/event-stream' : 'application/json' },
        body: JSON.stringify(messagesRequest(body, target)),
        context: { includeUsage: wantsStreamUsage(body) },
      };
    },

    response: (_operation, raw) => completionFromMessage(parseUpstreamJson(target, raw), target.upstreamModel),

    stream: (_operation, context) => new AnthropicStream(target, { emit: true, includeUsage: context.includeUsage, model: target.upstreamModel }),

    error: (status, headers, raw) => upstreamError(target, status, headers, raw),

    describeNative(path, body): NativeRequestInfo {
      const b = (typeof body === 'object' && body !== null ? body : {}) as Record<string, unknown>;
      const info: NativeRequestInfo = { operation: 'chat', upstreamModel: typeof b.model === 'string' ? b.model : null, stream: b.stream === true };
      // Only /messages is billed; count_tokens and model listings are not.
      return /\/messages\/?$/.test(path.split('?')[0]!) ? info : { ...info, unbilled: true };
    },

    tap(info, contentType) {
      if (info.unbilled) return jsonBodyTap(() => reported(0, 0));
      if (contentType.includes('text/event-stream')) {
        return streamTap(new AnthropicStream(target, { emit: false, includeUsage: false, model: target.upstreamModel }));
      }
      return jsonBodyTap((message) => usageFromAnthropic(message.usage));
    },
  };
}
