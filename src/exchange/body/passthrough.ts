/**
 * Native passthrough: the upstream's answer goes to the caller byte for byte, unbuffered, and a tap
 * reads usage from a bounded window of it. The final bytes wait for the charge: with a
 * content-length, the body's last byte; otherwise (chunked) the end of the response, and in an
 * OpenAI-style stream everything from `data: [DONE]` (where the SDKs stop reading). A cut body is
 * never made to look like a clean end: the connection is dropped instead.
 */
import type { IncomingHttpHeaders, ServerResponse } from 'node:http';
import type { ExchangeOutcome } from '../../metering/record.ts';
import { billedUsage } from '../../metering/usage.ts';
import { setTapWindow, SseBacklog } from '../../providers/body-tap.ts';
import { doneEventAt, StreamWriter } from '../client-stream.ts';
import { openAIErrorBody, sendJson } from '../../server/respond.ts';
import { redactSecrets } from '../../util/redact.ts';
import type { BodyHandler, ExchangeRequest, FailedAttempt } from '../exchange-request.ts';
import { observeFirstChunk } from './translated-stream.ts';

const DROP_RESPONSE_HEADERS = new Set(['connection', 'keep-alive', 'transfer-encoding', 'set-cookie', 'alt-svc']);
/** The most of a stream's tail (from `data: [DONE]`) held for its charge. */
const HELD_MAX_BYTES = 64 * 1024;
/**
 * A sized body up to this size is held whole until its charge is written (as the unified API holds
 * its answers: a client cannot use part of a JSON body anyway), then sent in one write with the
 * head; a larger one streams through but for its last byte.
 */
const HOLD_WHOLE_BYTES = 64 * 1024;

export const passthroughBody: BodyHandler = {
  // Bounded: an error body past the limit is not relayed (a 502 instead).
  errorBody: (x) => ({ limit: x.ctx.runtime.config.limits.max_upstream_body_bytes, strict: true }),

  async serve(a, res) {
    const { x, response } = a;
    const limits = x.ctx.runtime.config.limits;
    a.commit();
    res.writeHead(response.statusCode, responseHeaders(response.headers, x.ctx.id));
    const contentType = String(response.headers['content-type'] ?? '');
    setTapWindow(limits.max_upstream_body_bytes);
    const tap = a.adapter.tap(x.native!, contentType);
    // An SSE tap's parser holds an event until it ends: past the window the tap stops reading (the
    // bytes still go through), and the usage is estimated.
    const backlog = contentType.includes('text/event-stream') ? new SseBacklog(limits.max_upstream_body_bytes) : null;
    let tapping = true;
    const writer = new StreamWriter(res);
    const sized = response.headers['content-length'] !== undefined;
    const whole: Buffer[] | null = sized && Number(response.headers['content-length']) <= HOLD_WHOLE_BYTES ? [] : null;
    let held: Uint8Array | undefined;
    let clientLeft = false;
    let cut = false;
    let firstChunk = x.stream;
    try {
      const end = await response.body.forEachChunk((chunk) => {
        if (firstChunk && chunk.length > 0) {
          firstChunk = false;
          observeFirstChunk(a);
        }
        if (tapping && backlog !== null) tapping = backlog.push(chunk);
        if (tapping) tap.push(chunk);
        if (whole !== null) {
          whole.push(chunk);
          return true;
        }
        if (held !== undefined && !sized) {
          // Bytes after [DONE] are relayed unchanged too; past a bound they go on at once, and only
          // the end of the response waits.
          if (held.length + chunk.length <= HELD_MAX_BYTES) {
            held = Buffer.concat([held, chunk]);
            return true;
          }
          writer.write(held);
          held = new Uint8Array(0);
          return writer.write(chunk);
        }
        if (!sized) {
          const done = doneEventAt(chunk);
          if (done === -1) return writer.write(chunk);
          held = chunk.subarray(done);
          return done === 0 ? true : writer.write(chunk.subarray(0, done));
        }
        if (chunk.length === 0) return true;
        if (held) writer.write(held);
        held = chunk.subarray(chunk.length - 1);
        return chunk.length === 1 ? true : writer.write(chunk.subarray(0, chunk.length - 1));
      });
      clientLeft = end === 'stopped';
    } catch {
      clientLeft = a.signal.aborted;
      cut = !clientLeft;
    }
    if (whole !== null) held = whole.length === 1 ? whole[0]! : Buffer.concat(whole);
    if (clientLeft || cut) {
      if (whole !== null && held!.length > 1) writer.write(held!.subarray(0, held!.length - 1));
      response.body.destroy();
      // What arrived before the cut goes out; then the connection is dropped, not the response ended.
      writer.flush();
      res.destroy();
    }
    const tapped = tap.finish();
    const outcome: ExchangeOutcome =
      clientLeft ? 'aborted' : cut || tapped.outcome === 'truncated' ? 'truncated' : tapped.outcome === 'error' ? 'stream_error' : 'ok';
    return {
      served: true,
      status: response.statusCode,
      outcome,
      // The same money rule as the unified API; the bytes went through unchanged.
      usage: billedUsage(tapped.usage, outcome === 'ok', x.promptChars, tapped.generatedChars),
      async finish(written) {
        if (clientLeft || cut) return;
        await written;
        writer.end(held);
      },
    };
  },

  fail(x: ExchangeRequest, failed: FailedAttempt, res: ServerResponse) {
    const up = failed.upstream;
    if (up === undefined || up.raw === null) throw failed.error;
    if (failed.error.code === 'upstream_auth_failed') {
      // The gateway's credential was refused (401/403, Gemini's API_KEY_INVALID…): the provider's
      // text may quote part of it, and the caller's own key was fine.
      sendJson(res, failed.error.status, openAIErrorBody(failed.error), { 'x-request-id': x.ctx.id });
      return;
    }
    // Native callers get the provider's own error body, scrubbed of the managed key should it echo it.
    const secret = x.targets[0]!.credential.secret?.reveal();
    const text = up.raw.toString('utf8');
    const body = secret && text.includes(secret) ? Buffer.from(redactSecrets(text, [secret])) : up.raw;
    const headers = responseHeaders(up.headers, x.ctx.id);
    delete headers['content-length'];
    res.writeHead(up.status, { ...headers, 'content-length': String(body.length) }).end(body);
  },
};

function responseHeaders(upstream: IncomingHttpHeaders, requestId: string): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(upstream)) {
    if (value !== undefined && !DROP_RESPONSE_HEADERS.has(name)) out[name] = value;
  }
  out['x-request-id'] = requestId;
  return out;
}
