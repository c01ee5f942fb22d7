/**
 * Unified, not streamed: the whole upstream answer (bounded) is translated to the unified shape.
 * A 200 that is an error object, or not an answer at all, is the upstream's failure (health,
 * fallback), answered 502 if no deployment serves.
 */
import { isGatewayError } from '../../errors/catalog.ts';
import { billedUsage } from '../../metering/usage.ts';
import type { TranslatedResponse } from '../../providers/contract.ts';
import { badSuccess, errorInSuccess } from '../../providers/upstream-error.ts';
import { sendAfter } from '../client-stream.ts';
import { transportError } from '../../upstream/transport.ts';
import type { BodyHandler } from '../exchange-request.ts';

/** An upstream error body is read this far at most (for its message; the rest is not read). */
export const ERROR_BODY_BYTES = 64 * 1024;

export const translatedBody: BodyHandler = {
  errorBody: () => ({ limit: ERROR_BODY_BYTES, strict: false }),

  async serve(a, res) {
    const { x, target } = a;
    let translated: TranslatedResponse;
    try {
      const raw = await a.response.body.bytes(x.ctx.runtime.config.limits.max_upstream_body_bytes, true);
      const inBody = errorInSuccess(raw);
      if (inBody) throw badSuccess(target, inBody);
      try {
        translated = a.adapter.response(x.operation, raw, a.context);
      } catch (err) {
        throw isGatewayError(err) ? err : badSuccess(target, null);
      }
    } catch (err) {
      return { served: false, error: transportError(err, target.baseUrl) };
    }
    const body = translated.body;
    return {
      served: true,
      status: 200,
      outcome: 'ok',
      usage: billedUsage(translated.usage, true, x.promptChars, Buffer.byteLength(body)),
      finish: (written) => sendAfter(res, 200, body, a.clientHeaders, written),
    };
  },
};
