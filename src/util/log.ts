/** Structured JSON logs (pino). Anything that looks like a credential is redacted by path. */
import { pino, type Logger } from 'pino';
import { batchedStdout } from './log-destination.ts';

export type { Logger };

// Every header a caller or provider key travels in, wherever a headers object is logged
// (top level, under req/res/upstream/…), plus the field names secrets go by.
const KEY_HEADERS = ['"authorization"', '"x-api-key"', '"x-goog-api-key"', '"api-key"', '"cookie"', '"set-cookie"', '"x-amz-security-token"', '"proxy-authorization"'];
const SECRET_FIELDS = ['secret', 'api_key', 'authorization', 'password', 'token', 'session_token', 'secret_access_key'];

export const REDACTED_PATHS = [
  ...KEY_HEADERS.flatMap((h) => [`headers[${h}]`, `*.headers[${h}]`]),
  ...SECRET_FIELDS.flatMap((f) => [f, `*.${f}`]),
];

/**
 * The same logger without path redaction, for lines built only from fields that cannot hold a
 * secret (the access log): pino's redaction costs ~50 µs a line (bench/RESULTS.md), plain ~9 µs.
 */
export function withoutRedaction(log: Logger): Logger {
  return log.child({}, { redact: { paths: [] } });
}

/** Default destination: stdout, one write per event-loop turn (log-destination.ts). */
export function createLogger(level: string, destination?: NodeJS.WritableStream): Logger {
  return pino(
    { level, base: { service: 'tollbooth' }, redact: { paths: REDACTED_PATHS, censor: '[redacted]' }, timestamp: pino.stdTimeFunctions.isoTime },
    (destination as pino.DestinationStream | undefined) ?? batchedStdout(),
  );
}
