/**
 * The default log destination: stdout, with lines gathered and written together. A system call
 * costs tens of microseconds of CPU on the VMs this runs on: one write per access line was 10–15 %
 * of a proxied request's CPU (bench/RESULTS.md). Lines are written at most FLUSH_MS after they
 * were logged, at once when FLUSH_BYTES have gathered or an error is logged, and whatever is
 * pending when the process exits. Writes are synchronous (pino's SonicBoom), so there is no I/O
 * thread hand-off either.
 */
import { pino } from 'pino';

const FLUSH_MS = 50;
const FLUSH_BYTES = 64 * 1024;

let stdout: pino.DestinationStream | null = null;

export function batchedStdout(): pino.DestinationStream {
  if (stdout) return stdout;
  const sonic = pino.destination({ dest: 1, sync: true });
  let pending: string[] = [];
  let bytes = 0;
  let timer: NodeJS.Timeout | null = null;
  const flush = () => {
    if (timer) {
      clearTimeout(timer);
      timer = null;
    }
    if (pending.length === 0) return;
    const text = pending.length === 1 ? pending[0]! : pending.join('');
    pending = [];
    bytes = 0;
    sonic.write(text);
  };
  process.on('exit', flush);
  stdout = {
    write(line: string) {
      pending.push(line);
      bytes += line.length;
      if (bytes >= FLUSH_BYTES || isErrorLine(line)) flush();
      else timer ??= setTimeout(flush, FLUSH_MS).unref();
    },
  };
  return stdout;
}

/** pino writes the level first: `{"level":50` (error) or `{"level":60` (fatal). */
function isErrorLine(line: string): boolean {
  return line.startsWith('{"level":5') || line.startsWith('{"level":6');
}
