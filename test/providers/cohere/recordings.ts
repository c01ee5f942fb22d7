/**
 * What a Cohere v2 recording says a caller should end up with, read straight from the recorded data
 * (not through src/): text, thinking, tool plan, tool calls, finish reason and the billed units.
 */
import { chunkLines, fixtureJson, sseFrames } from '../../support/fixtures.ts';

export interface Expected {
  text: string;
  thinking: string;
  toolPlan: string;
  tools: { id: string; name: string; arguments: string }[];
  finishReason: string | null;
  /** billed_units: what Cohere charges, and so what managed metering charges. */
  prompt: number;
  completion: number;
}

export function fromChat(path: string): Expected {
  const body = fixtureJson(path);
  const content: any[] = body.message.content ?? [];
  return {
    text: content.filter((c) => c.type === 'text').map((c) => c.text).join(''),
    thinking: content.filter((c) => c.type === 'thinking').map((c) => c.thinking).join(''),
    toolPlan: body.message.tool_plan ?? '',
    tools: (body.message.tool_calls ?? []).map((t: any) => ({ id: t.id, name: t.function.name, arguments: t.function.arguments })),
    finishReason: body.finish_reason,
    prompt: body.usage.billed_units.input_tokens,
    completion: body.usage.billed_units.output_tokens,
  };
}

export function fromEvents(path: string): Expected {
  const expected: Expected = { text: '', thinking: '', toolPlan: '', tools: [], finishReason: null, prompt: 0, completion: 0 };
  for (const line of chunkLines(path)) {
    const e = JSON.parse(line);
    const message = e.delta?.message;
    if (e.type === 'content-delta') {
      expected.text += message.content.text ?? '';
      expected.thinking += message.content.thinking ?? '';
    }
    if (e.type === 'tool-plan-delta') expected.toolPlan += message.tool_plan;
    if (e.type === 'tool-call-start') {
      const call = message.tool_calls;
      expected.tools[e.index] = { id: call.id, name: call.function.name, arguments: call.function.arguments ?? '' };
    }
    if (e.type === 'tool-call-delta') expected.tools[e.index]!.arguments += message.tool_calls.function.arguments;
    if (e.type === 'message-end') {
      expected.finishReason = e.delta.finish_reason;
      expected.prompt = e.delta.usage.billed_units.input_tokens;
      expected.completion = e.delta.usage.billed_units.output_tokens;
    }
  }
  return expected;
}

/** The recording framed as Cohere sends it: `event: <type>` then `data: <payload>`. */
export function cohereFrames(path: string): string[] {
  return sseFrames(chunkLines(path), { eventFromType: true });
}
