/** A thing the load is pointed at: the upstream itself (direct), a baseline proxy, or Tollbooth. */
import type { Child, ProcessGroup } from '../processes.ts';
import { announcedPort } from '../processes.ts';

/** `tollbooth:<name>` is a variant of Tollbooth run beside it (another log level, node flag or checkout). */
export type SubjectName = 'direct' | 'undici' | 'http-proxy-3' | 'nginx' | 'tollbooth' | `tollbooth:${string}`;

export interface Subject {
  name: SubjectName;
  /** http://127.0.0.1:<port> */
  origin: string;
  /** The process whose CPU and memory are measured (null for direct: no proxy in the way). */
  pid: number | null;
}

const LABELS: Record<string, string> = {
  direct: 'direct (no proxy)',
  undici: 'bare undici proxy',
  'http-proxy-3': 'bare http-proxy-3 proxy',
  nginx: 'nginx proxy_pass',
  tollbooth: 'Tollbooth',
};

export function subjectLabel(name: SubjectName): string {
  return LABELS[name] ?? `Tollbooth (${name.slice('tollbooth:'.length)})`;
}

/** Tollbooth or one of its variants: it gets the Tollbooth request of a case. */
export function isTollbooth(name: SubjectName): boolean {
  return name === 'tollbooth' || name.startsWith('tollbooth:');
}

const NODE_SERVERS = new URL('../servers/', import.meta.url);

/** Starts one of bench/servers/*.ts as its own process and waits for its port. */
export async function startBenchServer(group: ProcessGroup, name: string, script: string, args: string[] = []): Promise<{ child: Child; origin: string }> {
  const child = group.spawn(name, process.execPath, [new URL(script, NODE_SERVERS).pathname, ...args], { ipc: true });
  const port = await announcedPort(child);
  return { child, origin: `http://127.0.0.1:${port}` };
}
