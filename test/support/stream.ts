/** Reassembling a unified stream the way an OpenAI caller does, checking what every chunk must carry. */
import assert from 'node:assert/strict';

export interface Reassembled {
  content: string;
  reasoning: string;
  refusal: string;
  finish: string | null;
  /** The last usage object seen (the `choices: []` chunk, when asked for). */
  usage: any;
  calls: { id: string; name: string; arguments: string }[];
}

export async function reassemble(stream: AsyncIterable<any>): Promise<Reassembled> {
  const out: Reassembled = { content: '', reasoning: '', refusal: '', finish: null, usage: null, calls: [] };
  let first = true;
  for await (const chunk of stream) {
    if (chunk.usage) out.usage = chunk.usage;
    const choice = chunk.choices[0];
    if (!choice) continue;
    if (first) assert.equal(choice.delta.role, 'assistant', 'the first chunk carries the role');
    first = false;
    out.content += choice.delta.content ?? '';
    out.reasoning += choice.delta.reasoning_content ?? '';
    out.refusal += choice.delta.refusal ?? '';
    out.finish = choice.finish_reason ?? out.finish;
    for (const call of choice.delta.tool_calls ?? []) {
      // The SDKs' own accumulators key deltas by index.
      assert.equal(typeof call.index, 'number', 'every tool-call delta carries an index');
      if (call.id) {
        assert.equal(call.type, 'function');
        out.calls[call.index] = { id: call.id, name: call.function.name, arguments: call.function.arguments ?? '' };
      } else {
        out.calls[call.index]!.arguments += call.function.arguments ?? '';
      }
    }
  }
  return out;
}
