/**
 * Request bodies: read with a size limit and an idle limit, refused when nested too deep, parsed
 * with errors the caller can act on (and that never quote the body back at length).
 */
import type { IncomingMessage } from 'node:http';
import { GatewayError } from '../errors/catalog.ts';
import { printable } from '../util/printable.ts';

/** The body limits a request was admitted under: set by its listener from the runtime's config. */
export interface BodyLimits {
  max_json_depth: number;
  body_idle_timeout_ms: number;
}

/** Used when a listener set nothing (a handler called directly, a test): the schema's defaults. */
export const DEFAULT_BODY_LIMITS: BodyLimits = { max_json_depth: 128, body_idle_timeout_ms: 30_000 };

const limitsOf = new WeakMap<IncomingMessage, BodyLimits>();

/** The listener records the limits of the runtime `req` started under; readBody applies them. */
export function setBodyLimits(req: IncomingMessage, limits: BodyLimits): void {
  limitsOf.set(req, limits);
}

/**
 * Reads the whole body, at most `limit` bytes. A body that stops arriving for longer than the idle
 * limit is a 408; a JSON body (one starting with `{` or `[`) nested deeper than `max_json_depth` is a
 * 400 before anyone parses it: JSON.parse survives deep input, the recursive code after it does not.
 */
export function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const limits = limitsOf.get(req) ?? DEFAULT_BODY_LIMITS;
  const declared = Number(req.headers['content-length']);
  if (declared > limit) return Promise.reject(tooLarge(limit));
  // Events, not `for await`: an async iterator per request showed up in the request profile.
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let idle: NodeJS.Timeout | null = null;
    const armIdle = () => {
      if (idle) idle.refresh();
      else idle = setTimeout(onIdle, limits.body_idle_timeout_ms);
    };
    const onIdle = () => {
      cleanup();
      req.pause();
      reject(
        new GatewayError('request_timeout', `The request body stalled: nothing arrived for ${limits.body_idle_timeout_ms} ms.`, {
          headers: { connection: 'close' },
        }),
      );
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        cleanup();
        req.pause();
        reject(tooLarge(limit));
      } else {
        chunks.push(chunk);
        armIdle();
      }
    };
    const onEnd = () => {
      cleanup();
      const body = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size);
      const tooDeep = jsonDepthExceeds(body, limits.max_json_depth);
      if (tooDeep) {
        reject(new GatewayError('json_too_deep', `The request body nests objects and arrays deeper than the limit of ${limits.max_json_depth} levels.`));
      } else resolve(body);
    };
    const onError = (err: Error) => {
      cleanup();
      reject(err);
    };
    const onClose = () => {
      if (req.complete) return;
      cleanup();
      reject(new GatewayError('invalid_request', 'The client closed the connection before the request body was complete.'));
    };
    const cleanup = () => {
      if (idle) clearTimeout(idle);
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      req.off('close', onClose);
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
    req.on('close', onClose);
    if (!req.complete) armIdle();
  });
}

function tooLarge(limit: number): GatewayError {
  // The rest of the body is not read: the connection closes after the answer.
  return new GatewayError('body_too_large', `The request body is larger than the limit of ${limit} bytes.`, {
    headers: { connection: 'close' },
  });
}

const OPEN_BRACE = 0x7b;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACE = 0x7d;
const CLOSE_BRACKET = 0x5d;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;

/**
 * Whether `body`, if JSON, nests objects/arrays deeper than `max`: one pass over the bytes, skipping
 * strings. Bodies that do not start like JSON are left to their reader.
 */
export function jsonDepthExceeds(body: Uint8Array, max: number): boolean {
  let i = 0;
  while (i < body.length && (body[i] === 0x20 || body[i] === 0x0a || body[i] === 0x0d || body[i] === 0x09)) i++;
  if (body[i] !== OPEN_BRACE && body[i] !== OPEN_BRACKET) return false;
  let depth = 0;
  let inString = false;
  for (; i < body.length; i++) {
    const b = body[i];
    if (inString) {
      if (b === BACKSLASH) i++;
      else if (b === QUOTE) inString = false;
    } else if (b === QUOTE) {
      inString = true;
    } else if (b === OPEN_BRACE || b === OPEN_BRACKET) {
      if (++depth > max) return true;
    } else if (b === CLOSE_BRACE || b === CLOSE_BRACKET) {
      depth--;
    }
  }
  return false;
}

export function parseJsonObject(raw: Buffer): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(raw.toString('utf8'));
  } catch (err) {
    // V8's message quotes the text around the fault: kept short and printable.
    throw new GatewayError('invalid_json', `The request body is not valid JSON: ${printable((err as Error).message, 200)}`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new GatewayError('invalid_json', 'The request body must be a JSON object.');
  }
  return value as Record<string, unknown>;
}
