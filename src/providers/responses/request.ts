/**
 * An OpenAI Responses request → the unified (chat.completions) request, for providers that do not
 * serve the Responses API: the provider's own adapter takes it from there. What chat cannot carry is
 * refused with a 400 naming it, never dropped: built-in tools (web search, file search, computer
 * use, …), `previous_response_id` (a bridged response is not stored: send the whole conversation
 * as `input` items). Reasoning items passed back are not sent on (they are the original provider's
 * own state); `metadata` and `store` are accepted and not forwarded.
 */
import { GatewayError } from '../../errors/catalog.ts';
import type { Target } from '../../routing/target.ts';
import { withinModel } from '../messages/request.ts';

type Json = Record<string, unknown>;

interface Part {
  type?: string;
  text?: string;
  image_url?: string;
  detail?: string;
  file_data?: string;
  file_id?: string;
  filename?: string;
}

interface Item {
  type?: string;
  role?: string;
  content?: unknown;
  call_id?: string;
  name?: string;
  arguments?: string;
  output?: unknown;
}

function invalid(message: string, param: string): GatewayError {
  return new GatewayError('invalid_request', message, { param });
}

export function chatFromResponses(body: Json, target: Target): Json {
  if (typeof body.previous_response_id === 'string') {
    throw invalid(
      `'previous_response_id' is not available on ${target.provider.display_name}: Tollbooth does not store bridged responses. Send the conversation's items as 'input' instead.`,
      'previous_response_id',
    );
  }
  const messages: Json[] = [];
  if (typeof body.instructions === 'string' && body.instructions.length > 0) messages.push({ role: 'system', content: body.instructions });
  if (typeof body.input === 'string') messages.push({ role: 'user', content: body.input });
  else if (Array.isArray(body.input)) body.input.forEach((item, i) => addItem(messages, item as Item, `input[${i}]`));
  else throw invalid("'input' must be a string or an array of items.", 'input');

  const openAI = target.provider.name === 'openai' || target.provider.name === 'azure';
  const chat: Json = { model: target.model?.model_id ?? body.model, messages };
  if (typeof body.max_output_tokens === 'number') chat[openAI ? 'max_completion_tokens' : 'max_tokens'] = withinModel(body.max_output_tokens, target);
  for (const key of ['temperature', 'top_p', 'parallel_tool_calls', 'user'] as const) if (body[key] !== undefined && body[key] !== null) chat[key] = body[key];
  if (body.stream === true) chat.stream = true;
  const effort = (body.reasoning as { effort?: unknown } | undefined)?.effort;
  if (typeof effort === 'string' && effort !== 'none') chat.reasoning_effort = effort;
  if (Array.isArray(body.tools) && body.tools.length > 0) chat.tools = body.tools.map((t, i) => tool(t as Json, `tools[${i}]`));
  if (body.tool_choice !== undefined && body.tool_choice !== null) chat.tool_choice = toolChoice(body.tool_choice);
  const format = responseFormat((body.text as { format?: unknown } | undefined)?.format);
  if (format) chat.response_format = format;
  return chat;
}

function addItem(messages: Json[], item: Item, param: string): void {
  const type = item?.type ?? (typeof item?.role === 'string' ? 'message' : undefined);
  switch (type) {
    case 'message': {
      const role = item.role === 'developer' ? 'system' : item.role;
      if (role !== 'user' && role !== 'assistant' && role !== 'system') throw invalid(`${param}.role must be user, assistant, system or developer.`, `${param}.role`);
      messages.push({ role, content: content(item.content, role, param) });
      return;
    }
    case 'function_call': {
      const call = { id: item.call_id, type: 'function', function: { name: item.name, arguments: item.arguments ?? '' } };
      const last = messages.at(-1);
      // Parallel calls are consecutive items: one assistant message carries them all.
      if (last?.role === 'assistant' && Array.isArray(last.tool_calls)) last.tool_calls.push(call);
      else messages.push({ role: 'assistant', content: null, tool_calls: [call] });
      return;
    }
    case 'function_call_output':
      messages.push({ role: 'tool', tool_call_id: item.call_id, content: typeof item.output === 'string' ? item.output : textOf(item.output) });
      return;
    case 'reasoning':
      return;
    default:
      throw invalid(`${param}: input items of type '${String(type)}' cannot be sent to this model's provider.`, param);
  }
}

function content(value: unknown, role: string, param: string): unknown {
  if (typeof value === 'string') return value;
  if (!Array.isArray(value)) throw invalid(`${param}.content must be a string or an array of parts.`, `${param}.content`);
  const parts = (value as Part[]).map((p, j) => part(p, `${param}.content[${j}]`));
  // Assistant turns (and system ones) are text in chat.
  return role === 'user' ? parts : parts.map((p) => (p.type === 'text' ? p.text : '')).join('');
}

function part(p: Part, param: string): Json {
  switch (p?.type) {
    case 'input_text':
    case 'output_text':
    case 'text':
      return { type: 'text', text: p.text ?? '' };
    case 'input_image':
      if (typeof p.image_url !== 'string') throw invalid(`${param}: only images given by image_url can be sent to this model's provider.`, param);
      return { type: 'image_url', image_url: { url: p.image_url, ...(p.detail ? { detail: p.detail } : {}) } };
    case 'input_file':
      return { type: 'file', file: { ...(p.file_data ? { file_data: p.file_data } : {}), ...(p.file_id ? { file_id: p.file_id } : {}), ...(p.filename ? { filename: p.filename } : {}) } };
    default:
      throw invalid(`${param}: content parts of type '${String(p?.type)}' cannot be sent to this model's provider.`, param);
  }
}

function textOf(value: unknown): string {
  if (!Array.isArray(value)) return JSON.stringify(value ?? '');
  return (value as Part[]).filter((p) => typeof p?.text === 'string').map((p) => p.text).join('');
}

function tool(t: Json, param: string): Json {
  if (t?.type !== 'function' || typeof t.name !== 'string') {
    throw invalid(`${param}: the built-in tool '${String(t?.type)}' is not available on this model's provider; only function tools are.`, param);
  }
  const fn: Json = { name: t.name, parameters: t.parameters ?? { type: 'object', properties: {} } };
  if (typeof t.description === 'string') fn.description = t.description;
  if (typeof t.strict === 'boolean') fn.strict = t.strict;
  return { type: 'function', function: fn };
}

function toolChoice(choice: unknown): unknown {
  if (choice === 'auto' || choice === 'none' || choice === 'required') return choice;
  const c = choice as { type?: string; name?: string };
  if (c?.type === 'function' && typeof c.name === 'string') return { type: 'function', function: { name: c.name } };
  throw invalid(`tool_choice '${JSON.stringify(choice)}' cannot be sent to this model's provider (auto, none, required or a function).`, 'tool_choice');
}

function responseFormat(format: unknown): Json | null {
  const f = format as { type?: string; name?: string; schema?: unknown; strict?: boolean; description?: string } | undefined;
  if (!f || f.type === 'text') return null;
  if (f.type === 'json_object') return { type: 'json_object' };
  if (f.type === 'json_schema') {
    return { type: 'json_schema', json_schema: { name: f.name ?? 'response', schema: f.schema, ...(typeof f.strict === 'boolean' ? { strict: f.strict } : {}), ...(f.description ? { description: f.description } : {}) } };
  }
  throw invalid(`text.format.type '${String(f.type)}' is not one of text, json_object, json_schema.`, 'text.format');
}
