/**
 * Logs (pino): JSON lines for machines, readable lines on a terminal. Anything that looks like a
 * credential is redacted by path, before either format sees it.
 */
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

export type LogFormat = 'json' | 'pretty';

/**
 * JSON unless stdout is a terminal. TOLLBOOTH_LOG_FORMAT=json|pretty decides otherwise (e.g. json on
 * a terminal to pipe into jq, pretty under a process manager that is not a TTY).
 */
export function logFormat(env: NodeJS.ProcessEnv = process.env, isTTY = process.stdout.isTTY === true): LogFormat {
  const chosen = env.TOLLBOOTH_LOG_FORMAT;
  if (chosen === 'json' || chosen === 'pretty') return chosen;
  return isTTY ? 'pretty' : 'json';
}

/**
 * The same logger without path redaction, for lines built only from fields that cannot hold a
 * secret (the access log): pino's redaction costs ~50 µs a line (bench/RESULTS.md), plain ~9 µs.
 */
export function withoutRedaction(log: Logger): Logger {
  return log.child({}, { redact: { paths: [] } });
}

/**
 * Default destination: stdout, one write per event-loop turn (log-destination.ts) for JSON; on a
 * terminal, each line formatted as it comes (a person is reading, not a collector).
 */
export function createLogger(level: string, destination?: NodeJS.WritableStream, format: LogFormat = destination ? 'json' : logFormat()): Logger {
  const options = { level, base: { service: 'tollbooth' }, redact: { paths: REDACTED_PATHS, censor: '[redacted]' }, timestamp: pino.stdTimeFunctions.isoTime };
  if (format === 'pretty') {
    const out = (destination as pino.DestinationStream | undefined) ?? pino.destination({ dest: 1, sync: true });
    const colors = !destination && process.stdout.isTTY === true && !process.env.NO_COLOR;
    return pino(options, { write: (line: string) => out.write(prettyLine(line, { colors })) });
  }
  return pino(options, (destination as pino.DestinationStream | undefined) ?? batchedStdout());
}

// Level → label and ANSI colour (pino's numeric levels).
const LEVELS: Record<number, [string, number]> = { 10: ['TRACE', 90], 20: ['DEBUG', 90], 30: ['INFO ', 32], 40: ['WARN ', 33], 50: ['ERROR', 31], 60: ['FATAL', 35] };
// What every line carries, so the readable form leaves it out.
const IMPLIED = new Set(['level', 'time', 'msg', 'service', 'pid', 'hostname', 'err']);

/**
 * One JSON log line as a person reads it: `12:00:01.234 WARN  message  key=value …`, an error's
 * stack below it. Formatted from the serialized line, so redaction has already happened. (A few
 * lines of code instead of pino-pretty: no transport thread, and nothing more in the image.)
 */
export function prettyLine(line: string, { colors = false }: { colors?: boolean } = {}): string {
  let entry: Record<string, unknown>;
  try {
    entry = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return line;
  }
  const paint = (code: number, text: string) => (colors ? `\x1b[${code}m${text}\x1b[0m` : text);
  const [label, color] = LEVELS[entry.level as number] ?? [String(entry.level), 0];
  const clock = typeof entry.time === 'string' ? entry.time.slice(11, 23) : '';
  const fields = Object.entries(entry)
    .filter(([k]) => !IMPLIED.has(k))
    .map(([k, v]) => `${paint(2, `${k}=`)}${typeof v === 'string' && /^[^\s"=]+$/.test(v) ? v : JSON.stringify(v)}`);
  let out = `${paint(2, clock)} ${paint(color, label)} ${String(entry.msg ?? '')}${fields.length > 0 ? `  ${fields.join(' ')}` : ''}\n`;
  const err = entry.err as { stack?: string; message?: string } | undefined;
  if (err && typeof err === 'object') out += `${String(err.stack ?? err.message ?? '').replace(/^/gm, '    ')}\n`;
  return out;
}
