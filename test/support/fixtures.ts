/** Recorded provider data (test/fixtures/providers, copied unchanged from ../shared; see SOURCES.md). */
import { readFileSync } from 'node:fs';

const ROOT = new URL('../fixtures/providers/', import.meta.url);

export function fixtureText(path: string): string {
  return readFileSync(new URL(path, ROOT), 'utf8');
}

export function fixtureJson<T = any>(path: string): T {
  return JSON.parse(fixtureText(path)) as T;
}

export function fixtureBytes(path: string): Buffer {
  return readFileSync(new URL(path, ROOT));
}

/** The data payloads of a Vercel *.chunks.txt recording, one per line, exactly as recorded. */
export function chunkLines(path: string): string[] {
  return fixtureText(path)
    .split('\n')
    .filter((line) => line.length > 0);
}

/**
 * Re-frames recorded payloads as the provider sends them (SOURCES.md, "Format notes"):
 * `data: <line>\n\n`, with `event: <type>` first for Anthropic/Cohere, and `data: [DONE]` last for
 * OpenAI-compatible vendors.
 */
export function sseFrames(lines: string[], options: { eventFromType?: boolean; done?: boolean } = {}): string[] {
  const frames = lines.map((line) => {
    if (!options.eventFromType) return `data: ${line}\n\n`;
    const type = (JSON.parse(line) as { type: string }).type;
    return `event: ${type}\ndata: ${line}\n\n`;
  });
  if (options.done) frames.push('data: [DONE]\n\n');
  return frames;
}
