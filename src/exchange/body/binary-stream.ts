/**
 * Unified, a binary answer streamed through (text to speech: audio bytes, or the speech events a
 * caller asked for with `stream_format: "sse"`): the upstream's content type and bytes go to the
 * caller unchanged as they arrive, and the adapter's stream translator reads on the way what the
 * answer is billed for. The last byte waits for the charge to be in the ledger file; a cut upstream
 * or a client that left drops the connection (a cut audio file never looks like a whole one).
 */
import type { ExchangeOutcome } from '../../metering/record.ts';
import { billedUsage } from '../../metering/usage.ts';
import { badSuccess, errorInSuccess } from '../../providers/upstream-error.ts';
import { StreamWriter } from '../client-stream.ts';
import type { BodyHandler } from '../exchange-request.ts';
import { observeFirstChunk } from './translated-stream.ts';
import { ERROR_BODY_BYTES } from './translated.ts';

export const binaryStream: BodyHandler = {
  errorBody: () => ({ limit: ERROR_BODY_BYTES, strict: false }),

  async serve(a, res) {
    const { x, response, target } = a;
    const contentType = String(response.headers['content-type'] ?? 'application/octet-stream');
    if (contentType.includes('json')) {
      // Audio was asked for; a JSON 200 is an error object (or no answer): the upstream's failure.
      const raw = await response.body.bytes(ERROR_BODY_BYTES, false).catch(() => Buffer.alloc(0));
      return { served: false, error: badSuccess(target, errorInSuccess(raw)) };
    }
    a.commit();
    const translator = a.adapter.stream(x.operation, a.context);
    const length = response.headers['content-length'];
    res.writeHead(200, { 'content-type': contentType, ...(length === undefined ? {} : { 'content-length': length }), ...a.clientHeaders });
    const writer = new StreamWriter(res);
    let held: Uint8Array | undefined;
    let first = true;
    let clientLeft = false;
    let cut = false;
    try {
      const end = await response.body.forEachChunk((chunk) => {
        const out = translator.push(chunk);
        const bytes = typeof out === 'string' ? Buffer.from(out) : out;
        if (bytes.length === 0) return true;
        if (first) {
          first = false;
          observeFirstChunk(a);
        }
        // Everything but the last byte seen so far goes out now.
        const before = held === undefined ? true : writer.write(held);
        held = bytes.subarray(bytes.length - 1);
        return bytes.length === 1 ? before : writer.write(bytes.subarray(0, bytes.length - 1));
      });
      clientLeft = end === 'stopped';
    } catch {
      clientLeft = a.signal.aborted;
      cut = !clientLeft;
    }
    translator.finish();
    if (clientLeft || cut) {
      response.body.destroy();
      writer.flush();
      res.destroy();
    }
    const outcome: ExchangeOutcome = clientLeft ? 'aborted' : cut ? 'truncated' : translator.outcome === 'error' ? 'stream_error' : 'ok';
    return {
      served: true,
      status: 200,
      outcome,
      // The provider processed the request once it answered 200: what it bills is charged, cut or not.
      usage: billedUsage(translator.usage, outcome === 'ok', x.promptChars, translator.generatedChars),
      async finish(written) {
        if (clientLeft || cut) return;
        await written;
        writer.end(held);
      },
    };
  },
};
