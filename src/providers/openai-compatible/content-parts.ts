/**
 * Mistral's reasoning models answer with `content` as an array of parts — `{type: "thinking",
 * thinking: [{type: "text", text}]}` and `{type: "text", text}` (recording: mistral-reasoning.*) —
 * where OpenAI callers expect a string. For vendors flagged `content_parts`, the unified API
 * flattens text parts into `content` and thinking parts into `reasoning_content`.
 */

interface Part {
  type?: string;
  text?: string;
  thinking?: unknown;
}

type Message = { content?: unknown; reasoning_content?: string };

/** Flattens array content in a chat.completion body or chunk in place; returns whether anything changed. */
export function flattenContentParts(body: { choices?: { message?: Message; delta?: Message }[] }): boolean {
  let changed = false;
  for (const choice of body.choices ?? []) {
    for (const message of [choice.message, choice.delta]) {
      if (!message || !Array.isArray(message.content)) continue;
      let text = '';
      let thinking = '';
      for (const part of message.content as Part[]) {
        if (part.type === 'text') text += part.text ?? '';
        else if (part.type === 'thinking') thinking += thinkingText(part.thinking);
      }
      message.content = text;
      if (thinking) message.reasoning_content = (message.reasoning_content ?? '') + thinking;
      changed = true;
    }
  }
  return changed;
}

function thinkingText(thinking: unknown): string {
  if (typeof thinking === 'string') return thinking;
  if (!Array.isArray(thinking)) return '';
  return thinking.map((t: Part) => (typeof t === 'string' ? t : (t.text ?? ''))).join('');
}
