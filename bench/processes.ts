/**
 * Every process the harness starts goes through here, so every one of them is stopped at the end:
 * on success, on error, on Ctrl-C and when the run's deadline passes (SIGTERM, then SIGKILL).
 */
import { spawn, type ChildProcess, type StdioOptions } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { isAlive } from './proc-stats.ts';

export interface Child {
  name: string;
  pid: number;
  process: ChildProcess;
  /** Resolves when the process has exited (and was reaped). */
  exited: Promise<void>;
}

export interface SpawnOptions {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Where stdout/stderr go: piped to the harness (default) or a file descriptor (logs). */
  output?: 'pipe' | number;
  /** Give a node child an IPC channel; bench servers exit when it closes (the harness died). */
  ipc?: boolean;
}

export class ProcessGroup {
  readonly #children: Child[] = [];
  #log: (line: string) => void;

  constructor(log: (line: string) => void) {
    this.#log = log;
  }

  spawn(name: string, command: string, args: string[], options: SpawnOptions = {}): Child {
    const out = options.output ?? 'pipe';
    const stdio: StdioOptions = ['ignore', out, out];
    if (options.ipc) stdio.push('ipc');
    const proc = spawn(command, args, { env: options.env ?? process.env, cwd: options.cwd, stdio });
    if (proc.pid === undefined) throw new Error(`could not start ${name} (${command})`);
    const exited = new Promise<void>((resolve) => {
      if (proc.exitCode !== null || proc.signalCode !== null) resolve();
      else proc.once('exit', () => resolve());
    });
    proc.once('error', (err) => this.#log(`${name}: ${err.message}`));
    const child: Child = { name, pid: proc.pid, process: proc, exited };
    this.#children.push(child);
    this.#log(`started ${name} pid=${proc.pid}`);
    return child;
  }

  get pids(): number[] {
    return this.#children.map((c) => c.pid);
  }

  /** SIGTERM every child, wait up to `graceMs`, SIGKILL what is left, and wait for it to go. */
  async stopAll(graceMs = 5000): Promise<void> {
    const running = this.#children.filter((c) => c.process.exitCode === null && c.process.signalCode === null);
    for (const child of running) signal(child, 'SIGTERM');
    const timeout = new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), graceMs).unref());
    for (const child of running) {
      if ((await Promise.race([child.exited.then(() => 'exited' as const), timeout])) === 'timeout') {
        this.#log(`${child.name} pid=${child.pid} did not stop in ${graceMs} ms: SIGKILL`);
        signal(child, 'SIGKILL');
        await child.exited;
      }
    }
  }

  /** Last resort from a synchronous 'exit' handler: SIGKILL whatever is still running. */
  killAllNow(): void {
    for (const child of this.#children) {
      if (child.process.exitCode === null && child.process.signalCode === null) signal(child, 'SIGKILL');
    }
  }

  /** Children still alive after stopAll (should be none). */
  survivors(): Child[] {
    return this.#children.filter((c) => isAlive(c.pid));
  }
}

function signal(child: Child, sig: NodeJS.Signals): void {
  try {
    child.process.kill(sig);
  } catch {
    // already gone
  }
}

/** Resolves with the port a bench server announces on stdout (`READY <port>`). */
export async function announcedPort(child: Child, timeoutMs = 15_000): Promise<number> {
  const stdout = child.process.stdout;
  if (!stdout) throw new Error(`${child.name}: stdout is not piped`);
  stdout.setEncoding('utf8');
  let seen = '';
  const port = new Promise<number>((resolve, reject) => {
    stdout.on('data', (text: string) => {
      seen += text;
      const match = /READY (\d+)/.exec(seen);
      if (match) resolve(Number(match[1]));
    });
    child.process.once('exit', (code, sig) => reject(new Error(`${child.name} exited (${sig ?? code}) before listening: ${seen.slice(-500)}`)));
  });
  child.process.stderr?.on('data', (text: Buffer) => process.stderr.write(`[${child.name}] ${text}`));
  return withTimeout(port, timeoutMs, `${child.name} did not announce its port within ${timeoutMs} ms`);
}

/** Polls `url` until it answers 200 (or, with `anyStatus`, until it answers at all). */
export async function waitForHttp(url: string, child: Child, options: { timeoutMs?: number; anyStatus?: boolean } = {}): Promise<void> {
  const timeoutMs = options.timeoutMs ?? 20_000;
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.process.exitCode !== null || child.process.signalCode !== null) {
      throw new Error(`${child.name} exited (${child.process.signalCode ?? child.process.exitCode}) before it was ready`);
    }
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(1000) });
      await res.arrayBuffer();
      if (res.status === 200 || options.anyStatus) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${child.name} was not ready at ${url} within ${timeoutMs} ms`);
}

/** A port free on 127.0.0.1 right now (for programs that cannot report the port they got). */
export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

export function withTimeout<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(message)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
