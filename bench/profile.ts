/**
 * Summarises a V8 .cpuprofile (node --cpu-prof): top self-time frames, and self time by file or
 * package. Usage: node bench/profile.ts <file.cpuprofile> [top N]
 */
import { readFileSync } from 'node:fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

const ROOT = new URL('../', import.meta.url).href;

export function summarizeProfile(file: string, top = 25): string {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const selfUs = new Map<number, number>();
  profile.samples.forEach((id, i) => selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));
  const frames = new Map<string, number>();
  const places = new Map<string, number>();
  let total = 0;
  let idle = 0;
  for (const [id, time] of selfUs) {
    const frame = byId.get(id)!.callFrame;
    if (frame.functionName === '(idle)') {
      idle += time;
      continue;
    }
    total += time;
    const where = place(frame.url);
    const key = `${frame.functionName || '(anonymous)'} ${short(frame.url)}${frame.url ? `:${frame.lineNumber + 1}` : ''}`;
    frames.set(key, (frames.get(key) ?? 0) + time);
    places.set(where || frame.functionName, (places.get(where || frame.functionName) ?? 0) + time);
  }
  // Inclusive time of Tollbooth's own functions: each sample counts once for every src/ frame on its stack.
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const child of n.children ?? []) parent.set(child, n.id);
  const inclusive = new Map<string, number>();
  for (const [id, time] of selfUs) {
    if (byId.get(id)!.callFrame.functionName === '(idle)') continue;
    const seen = new Set<string>();
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const frame = byId.get(at)!.callFrame;
      const local = short(frame.url);
      if (!local.startsWith('src/')) continue;
      const key = `${frame.functionName || '(anonymous)'} ${local}:${frame.lineNumber + 1}`;
      if (!seen.has(key)) {
        seen.add(key);
        inclusive.set(key, (inclusive.get(key) ?? 0) + time);
      }
    }
  }
  const rows = (map: Map<string, number>) =>
    [...map]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([name, time]) => `${(time / 1000).toFixed(0).padStart(7)} ms ${((time / total) * 100).toFixed(1).padStart(5)}%  ${name}`);
  return [
    `busy ${(total / 1000).toFixed(0)} ms, idle ${(idle / 1000).toFixed(0)} ms`,
    `top self time by frame:`,
    ...rows(frames),
    `self time by file / package:`,
    ...rows(places).slice(0, 15),
    `inclusive time of src/ functions:`,
    ...rows(inclusive),
  ].join('\n');
}

const short = (url: string) => (url.startsWith(ROOT) ? url.slice(ROOT.length) : url);

/** src/…, node_modules/<package>, node:<module>, or '' for V8/native frames. */
function place(url: string): string {
  if (!url) return '';
  const local = short(url);
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(local);
  if (pkg) return `node_modules/${pkg[1]}`;
  return local;
}

if (import.meta.main) {
  const [file, top] = process.argv.slice(2);
  if (!file) {
    process.stderr.write('usage: node bench/profile.ts <file.cpuprofile> [top N]\n');
    process.exitCode = 2;
  } else process.stdout.write(`${summarizeProfile(file, top ? Number(top) : 25)}\n`);
}
