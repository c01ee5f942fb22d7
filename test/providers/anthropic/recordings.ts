/**
 * What an Anthropic recording says a caller should end up with, read straight from the recorded
 * data (not through src/): text, thinking, tool calls, stop reason and the billed token counts.
 */
import { chunkLines, fixtureJson, sseFrames } from '../../support/fixtures.ts';

export interface Expected {
  text: string;
  thinking: string;
  tools: { id: string; name: string; arguments: string }[];
  stopReason: string | null;
  /** input + cache writes + cache reads: everything billed at the input rate. */
  prompt: number;
  completion: number;
  cached: number;
}

const billedPrompt = (u: any) => (u.input_tokens ?? 0) + (u.cache_creation_input_tokens ?? 0) + (u.cache_read_input_tokens ?? 0);

export function fromMessage(path: string): Expected {
  const m = fixtureJson(path);
  const blocks: any[] = m.content;
  return {
    text: blocks.filter((b) => b.type === 'text').map((b) => b.text).join(''),
    thinking: blocks.filter((b) => b.type === 'thinking').map((b) => b.thinking).join(''),
    tools: blocks.filter((b) => b.type === 'tool_use').map((b) => ({ id: b.id, name: b.name, arguments: JSON.stringify(b.input) })),
    stopReason: m.stop_reason,
    prompt: billedPrompt(m.usage),
    completion: m.usage.output_tokens,
    cached: m.usage.cache_read_input_tokens ?? 0,
  };
}

/** Streamed: usage fields from message_start, overwritten field by field by message_delta's (cumulative). */
export function fromEvents(path: string): Expected {
  const usage: Record<string, number> = {};
  const expected: Expected = { text: '', thinking: '', tools: [], stopReason: null, prompt: 0, completion: 0, cached: 0 };
  const toolAt = new Map<number, Expected['tools'][number]>();
  for (const line of chunkLines(path)) {
    const e = JSON.parse(line);
    if (e.type === 'message_start') Object.assign(usage, numbers(e.message.usage));
    if (e.type === 'message_delta') {
      Object.assign(usage, numbers(e.usage));
      expected.stopReason = e.delta.stop_reason;
    }
    if (e.type === 'content_block_start' && e.content_block.type === 'tool_use') {
      const tool = { id: e.content_block.id, name: e.content_block.name, arguments: '' };
      toolAt.set(e.index, tool);
      expected.tools.push(tool);
    }
    if (e.type === 'content_block_delta') {
      if (e.delta.type === 'text_delta') expected.text += e.delta.text;
      if (e.delta.type === 'thinking_delta') expected.thinking += e.delta.thinking;
      if (e.delta.type === 'input_json_delta') toolAt.get(e.index)!.arguments += e.delta.partial_json;
    }
  }
  expected.prompt = billedPrompt(usage);
  expected.completion = usage.output_tokens ?? 0;
  expected.cached = usage.cache_read_input_tokens ?? 0;
  return expected;
}

function numbers(u: Record<string, unknown>): Record<string, number> {
  return Object.fromEntries(Object.entries(u).filter(([, v]) => typeof v === 'number')) as Record<string, number>;
}

/** The recording framed as Anthropic sends it: `event: <type>` then `data: <payload>`, unchanged. */
export function anthropicFrames(path: string): string[] {
  return sseFrames(chunkLines(path), { eventFromType: true });
}
