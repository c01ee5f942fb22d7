/** Starts real gateway processes (child-gateway-main.ts) and waits until each one listens. */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';

const MAIN = fileURLToPath(new URL('./child-gateway-main.ts', import.meta.url));

export interface ChildGateway {
  proxyUrl: string;
  opsUrl: string;
  child: ChildProcess;
  /** What the process wrote to stderr (start-up failures name their reason there). */
  stderr(): string;
  /** Sends `signal` and waits for the process to exit; resolves with its exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/** Rejects with the process's stderr if it exits before listening. */
export async function startChildGateway(configFile: string, env: Record<string, string>): Promise<ChildGateway> {
  const child = spawn(process.execPath, [MAIN, configFile], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  child.stderr!.on('data', (chunk: Buffer) => (err += chunk.toString()));
  const exited = once(child, 'exit');
  const line = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const nl = out.indexOf('\n');
      if (nl >= 0) resolve(out.slice(0, nl));
    });
    void exited.then(([code]) => reject(new Error(`gateway exited (${code}) before listening: ${err.slice(-2000)}`)));
  });
  const { proxy, ops } = JSON.parse(line) as { proxy: string; ops: string };
  return {
    proxyUrl: proxy,
    opsUrl: ops,
    child,
    stderr: () => err,
    async stop(signal = 'SIGTERM') {
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
      child.kill(signal);
      const [code] = await exited;
      return code as number | null;
    },
  };
}
