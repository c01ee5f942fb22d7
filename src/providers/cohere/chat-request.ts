/**
 * OpenAI chat.completions request → Cohere v2 chat request (POST /v2/chat). Cohere v2 messages and
 * tools are close to OpenAI's; what differs: developer → system, an assistant's text beside tool
 * calls is its `tool_plan`, top_p → p, stop → stop_sequences, json_schema → json_object with a
 * schema, tool_choice only as REQUIRED/NONE (a named function keeps only that tool and requires it),
 * top_k → k, reasoning_effort (or the unified `thinking` extension's exact budget) → thinking
 * {type, token_budget} (budgets in unified/request-fields.ts).
 */
import type { Target } from '../../routing/target.ts';
import {
  contentParts,
  contentText,
  functionTools,
  imageUrlOf,
  invalid,
  maxTokensOf,
  messagesOf,
  requireSingleChoice,
  stopSequencesOf,
  thinkingBudget,
  toolCallsOf,
  topKOf,
  type ChatBody,
  type ChatMessage,
  type FunctionTool,
} from '../unified/request-fields.ts';

type Obj = Record<string, unknown>;

/** OpenAI sampling fields Cohere v2 takes under the same name. */
const SAME_NAME = ['temperature', 'seed', 'frequency_penalty', 'presence_penalty'] as const;

export function chatRequest(body: ChatBody, target: Target): Obj {
  requireSingleChoice(body, 'Cohere');
  const request: Obj = { model: target.upstreamModel, messages: messagesOf(body).map(cohereMessage) };

  let tools = functionTools(body);
  const choice = body.tool_choice as string | { function?: { name?: unknown } } | undefined | null;
  if (tools.length > 0 && choice !== undefined && choice !== null && choice !== 'auto') {
    if (choice === 'none') request.tool_choice = 'NONE';
    else if (choice === 'required') request.tool_choice = 'REQUIRED';
    else if (typeof choice === 'object' && typeof choice.function?.name === 'string') {
      const name = choice.function.name;
      tools = tools.filter((t) => t.name === name);
      if (tools.length === 0) throw invalid(`tool_choice names '${name}', which is not in 'tools'.`, 'tool_choice');
      request.tool_choice = 'REQUIRED';
    } else {
      throw invalid("'tool_choice' must be 'auto', 'none', 'required' or {type: 'function', function: {name}}.", 'tool_choice');
    }
  }
  if (tools.length > 0) {
    request.tools = tools.map(cohereTool);
    if (tools.some((t) => t.strict === true)) request.strict_tools = true;
  }

  const maxTokens = maxTokensOf(body);
  if (maxTokens !== null) request.max_tokens = maxTokens;
  for (const field of SAME_NAME) if (typeof body[field] === 'number') request[field] = body[field];
  if (typeof body.top_p === 'number') request.p = body.top_p;
  const topK = topKOf(body);
  if (topK !== null) request.k = topK;
  const stop = stopSequencesOf(body);
  if (stop) request.stop_sequences = stop;
  const format = responseFormat(body);
  if (format) request.response_format = format;
  const budget = thinkingBudget(body);
  if (budget !== null) request.thinking = budget === 0 ? { type: 'disabled' } : { type: 'enabled', token_budget: budget };
  if (body.stream === true) request.stream = true;
  return request;
}

function cohereMessage(m: ChatMessage, i: number): Obj {
  const param = `messages[${i}]`;
  switch (m.role) {
    case 'system':
    case 'developer':
      return { role: 'system', content: contentText(m.content, `${param}.content`) };
    case 'user':
      return { role: 'user', content: userContent(m.content, param) };
    case 'assistant': {
      const text = contentText(m.content, `${param}.content`);
      const calls = toolCallsOf(m, param);
      if (calls.length === 0) return { role: 'assistant', content: text };
      return {
        role: 'assistant',
        ...(text.length > 0 ? { tool_plan: text } : {}),
        tool_calls: calls.map((c) => ({ id: c.id, type: 'function', function: { name: c.name, arguments: c.arguments } })),
      };
    }
    case 'tool':
      if (typeof m.tool_call_id !== 'string') throw invalid(`${param}: a tool message needs 'tool_call_id'.`, `${param}.tool_call_id`);
      return { role: 'tool', tool_call_id: m.tool_call_id, content: contentText(m.content, `${param}.content`) };
    default:
      throw invalid(`${param}: role '${m.role}' is not supported for Cohere models.`, `${param}.role`);
  }
}

function userContent(content: unknown, param: string): string | Obj[] {
  if (typeof content === 'string') return content;
  return contentParts(content, `${param}.content`).map((part, j) => {
    const p = `${param}.content[${j}]`;
    if (part.type === 'text') return { type: 'text', text: part.text ?? '' };
    const url = part.type === 'image_url' ? imageUrlOf(part) : null;
    if (url) {
      const detail = typeof part.image_url === 'object' ? part.image_url.detail : undefined;
      return { type: 'image_url', image_url: { url, ...(detail ? { detail } : {}) } };
    }
    throw invalid(`${p}: content of type '${part.type}' is not supported for Cohere models.`, p);
  });
}

function cohereTool(fn: FunctionTool): Obj {
  return {
    type: 'function',
    function: {
      name: fn.name,
      ...(fn.description ? { description: fn.description } : {}),
      parameters: fn.parameters ?? { type: 'object', properties: {} },
    },
  };
}

function responseFormat(body: ChatBody): Obj | null {
  const format = body.response_format as { type?: string; json_schema?: { schema?: unknown } } | undefined | null;
  if (!format || format.type === 'text') return null;
  if (format.type === 'json_object') return { type: 'json_object' };
  const schema = format.json_schema?.schema;
  if (format.type === 'json_schema' && typeof schema === 'object' && schema !== null) return { type: 'json_object', json_schema: schema };
  throw invalid("'response_format' must be text, json_object or json_schema with a schema.", 'response_format');
}
