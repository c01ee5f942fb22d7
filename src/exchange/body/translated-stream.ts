/**
 * Unified, streamed: the upstream stream is translated chunk by chunk as it arrives. Once the
 * translator knows how the stream ends (the upstream's last event was read), what follows (the
 * usage chunk, [DONE] — where the SDKs stop reading — or an error event) is held until the charge
 * is in the ledger file. A stalled or cut upstream ends with an explicit error event, never a clean end.
 */
import type { ExchangeOutcome } from '../../metering/record.ts';
import { genaiLabels } from '../../metrics/registry.ts';
import { billedUsage } from '../../metering/usage.ts';
import { SseBacklog } from '../../providers/body-tap.ts';
import { sseErrorEvent } from '../../providers/sse.ts';
import { doneEventAt, StreamWriter } from '../client-stream.ts';
import type { Attempt, BodyHandler } from '../exchange-request.ts';
import { ERROR_BODY_BYTES } from './translated.ts';

/** The most of a stream's last bytes held for its charge (the usage chunk and [DONE] are far less). */
const HELD_MAX_BYTES = 64 * 1024;

/** How long a stream's head waits for its first chunk before it is sent alone. */
const HEAD_ALONE_AFTER_MS = 20;

export const translatedStream: BodyHandler = {
  errorBody: () => ({ limit: ERROR_BODY_BYTES, strict: false }),

  async serve(a, res) {
    const { x } = a;
    // The head goes to the client now: from here on, no failover and no deadline (the idle limit
    // between chunks still ends a stalled stream, with an error event).
    a.commit();
    const translator = a.adapter.stream(x.operation, a.context);
    // The translator's parser holds an event until it ends: bounded like any upstream body.
    const limit = x.ctx.runtime.config.limits.max_upstream_body_bytes;
    const sse = String(a.response.headers['content-type'] ?? '').includes('text/event-stream');
    const backlog = sse ? new SseBacklog(limit) : null;
    let overflow = false;
    res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', 'x-accel-buffering': 'no', ...a.clientHeaders });
    // The head leaves with the first chunk (one syscall, not two), or on its own if that is slow.
    const flushHead = setTimeout(() => res.flushHeaders(), HEAD_ALONE_AFTER_MS);
    const writer = new StreamWriter(res);
    let firstChunk = true;
    let clientLeft = false;
    let finished = false;
    const held: (string | Uint8Array)[] = [];
    let heldBytes = 0;
    const finish = () => {
      finished = true;
      clearTimeout(flushHead);
      const tail = overflow
        ? sseErrorEvent('upstream_response_too_large', `An upstream stream event grew past the limit of ${limit} bytes; the stream was ended.`)
        : translator.finish();
      if (tail.length > 0) held.push(tail);
    };
    try {
      const end = await a.response.body.forEachChunk((chunk) => {
        if (backlog !== null && !backlog.push(chunk)) {
          overflow = true;
          return false;
        }
        let out = translator.push(chunk);
        if (out.length === 0) return true;
        if (held.length > 0 || translator.outcome !== null) {
          // After the end nothing counts (the SDKs stopped reading at [DONE]); what a hostile upstream
          // sends on is not held without bound.
          heldBytes += out.length;
          if (heldBytes <= HELD_MAX_BYTES) held.push(out);
          return true;
        }
        const done = doneEventAt(out);
        if (done !== -1) {
          held.push(out.slice(done));
          if (done === 0) return true;
          out = out.slice(0, done);
        }
        if (firstChunk) {
          firstChunk = false;
          clearTimeout(flushHead);
          observeFirstChunk(a);
        }
        return writer.write(out);
      }, finish);
      clientLeft = end === 'stopped' && !overflow;
    } catch {
      // The upstream body failed mid-way (reset, idle limit) or the client left and aborted it.
      clientLeft = clientLeft || a.signal.aborted;
    }
    if (!finished) finish();
    const outcome: ExchangeOutcome = clientLeft
      ? 'aborted'
      : overflow
        ? 'truncated'
        : translator.outcome === 'complete'
          ? 'ok'
          : translator.outcome === 'error'
            ? 'stream_error'
            : 'truncated';
    return {
      served: true,
      status: 200,
      outcome,
      usage: billedUsage(translator.usage, outcome === 'ok', x.promptChars, translator.generatedChars),
      async finish(written) {
        // The end of the stream (its last byte) waits for the charge to be in the ledger file.
        if (!clientLeft) {
          await written;
          for (const part of held) writer.write(part);
        }
        writer.end();
      },
    };
  },
};

/** gen_ai_client_operation_time_to_first_chunk_seconds: from the request's start to its first streamed chunk. */
export function observeFirstChunk(a: Attempt): void {
  a.x.ctx.services.metrics.timeToFirstChunk.labels(...genaiLabels(a.x, a.target)).observe((performance.now() - a.x.ctx.startedAt) / 1000);
}
