/**
 * A whole answer passed on as the upstream wrote it (audio transcription: JSON, or text/srt/vtt),
 * bounded by limits.max_upstream_body_bytes. Usage is read from JSON answers; a 200 that is an
 * error object is the upstream's failure (health, fallback), like on every other route.
 */
import { isGatewayError } from '../../errors/catalog.ts';
import type { Usage } from '../../metering/usage.ts';
import { badSuccess, errorInSuccess } from '../../providers/upstream-error.ts';
import { sendAfter } from '../client-stream.ts';
import { transportError } from '../../upstream/transport.ts';
import type { BodyHandler } from '../exchange-request.ts';

export const wholeBody: BodyHandler = {
  errorBody: (x) => ({ limit: x.ctx.runtime.config.limits.max_upstream_body_bytes, strict: true }),

  async serve(a, res) {
    const { x, target } = a;
    let raw: Buffer;
    let usage: Usage | null = null;
    const contentType = String(a.response.headers['content-type'] ?? 'application/json');
    try {
      raw = await a.response.body.bytes(x.ctx.runtime.config.limits.max_upstream_body_bytes, true);
      // response_format text/srt/vtt answers in plain text: passed on as is, with no usage to read.
      if (contentType.includes('json')) {
        const inBody = errorInSuccess(raw);
        if (inBody) throw badSuccess(target, inBody);
        try {
          usage = a.adapter.response(x.operation, raw, a.context).usage;
        } catch (err) {
          throw isGatewayError(err) ? err : badSuccess(target, null);
        }
      }
    } catch (err) {
      return { served: false, error: transportError(err, target.baseUrl) };
    }
    return {
      served: true,
      status: 200,
      outcome: 'ok',
      usage,
      finish: (written) => sendAfter(res, 200, raw, { 'content-type': contentType, ...a.clientHeaders }, written),
    };
  },
};
