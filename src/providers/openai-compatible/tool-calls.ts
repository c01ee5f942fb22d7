/**
 * Mistral sends tool calls without `type` and, streamed, without `index` (recording:
 * mistral-tool-call.json / .chunks.txt). OpenAI SDKs need both (the streaming helper accumulates
 * deltas by index), so for vendors flagged `tool_calls_incomplete` the unified API adds them.
 */

interface ToolCall {
  id?: string;
  type?: string;
  index?: number;
  function?: unknown;
}

type Choice = { message?: { tool_calls?: ToolCall[] }; delta?: { tool_calls?: ToolCall[] } };

/** Completes tool calls in a chat.completion body or chunk in place; returns whether anything changed. */
export function completeToolCalls(body: { choices?: Choice[] }, state: { nextIndex: number }): boolean {
  let changed = false;
  for (const choice of body.choices ?? []) {
    const calls = choice.message?.tool_calls ?? choice.delta?.tool_calls;
    if (!Array.isArray(calls)) continue;
    calls.forEach((call, position) => {
      if (call.type === undefined && (call.id !== undefined || choice.message)) {
        call.type = 'function';
        changed = true;
      }
      if (call.index === undefined) {
        // A call with an id starts a new index; an id-less delta continues the last one.
        call.index = choice.message ? position : call.id !== undefined ? state.nextIndex++ : Math.max(0, state.nextIndex - 1);
        changed = true;
      } else if (call.id !== undefined) {
        state.nextIndex = Math.max(state.nextIndex, call.index + 1);
      }
    });
  }
  return changed;
}
