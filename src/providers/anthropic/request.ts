/**
 * OpenAI chat.completions request → Anthropic Messages request (POST /v1/messages).
 *
 * - system/developer messages, wherever they appear, become the top-level `system`.
 * - role `tool` messages become tool_result blocks in a user turn; consecutive turns of one role
 *   are merged, as Anthropic expects alternating user/assistant turns.
 * - `max_tokens` is required by Anthropic: without one from the caller it is
 *   min(model max_output_tokens, 8192), plus the thinking budget when thinking is on.
 * - `reasoning_effort` → `thinking: {type: enabled, budget_tokens}` (budgets in
 *   unified/request-fields.ts THINKING_BUDGETS: low 1024, medium 4096, high 16384, xhigh 32768;
 *   none/minimal → disabled). The budget must stay below max_tokens, so it is cut to fit a
 *   caller's smaller max_tokens, and refused when that leaves less than Anthropic's minimum 1024.
 *   The unified `thinking` extension (Anthropic's own object) gives the budget exactly instead.
 * - `top_k` (a unified extension) → `top_k`.
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
  parseDataUrl,
  parseToolArguments,
  requireSingleChoice,
  stopSequencesOf,
  thinkingBudget,
  toolCallsOf,
  topKOf,
  type ChatBody,
  type ChatMessage,
  type ContentPart,
  type FunctionTool,
} from '../unified/request-fields.ts';

const DEFAULT_MAX_TOKENS = 8192;
const MIN_THINKING_BUDGET = 1024;

type Block = Record<string, unknown>;
interface Turn {
  role: 'user' | 'assistant';
  content: Block[];
}

export function messagesRequest(body: ChatBody, target: Target): Record<string, unknown> {
  requireSingleChoice(body, 'Anthropic');
  const { system, turns } = conversation(messagesOf(body));
  const limits = tokenLimits(body, target.model?.max_output_tokens ?? null);
  const request: Record<string, unknown> = { model: target.upstreamModel, max_tokens: limits.maxTokens, messages: turns };
  if (system !== null) request.system = system;
  if (limits.thinking) request.thinking = limits.thinking;

  const tools = functionTools(body);
  if (tools.length > 0) {
    request.tools = tools.map(anthropicTool);
    const choice = toolChoice(body);
    if (choice) request.tool_choice = choice;
  }
  if (typeof body.temperature === 'number') request.temperature = body.temperature;
  if (typeof body.top_p === 'number') request.top_p = body.top_p;
  const topK = topKOf(body);
  if (topK !== null) request.top_k = topK;
  const stop = stopSequencesOf(body);
  if (stop) request.stop_sequences = stop;
  const user = body.safety_identifier ?? body.user;
  if (typeof user === 'string' && user.length > 0) request.metadata = { user_id: user };
  const output = outputConfig(body);
  if (output) request.output_config = output;
  if (body.stream === true) request.stream = true;
  return request;
}

function conversation(messages: ChatMessage[]): { system: string | Block[] | null; turns: Turn[] } {
  const system: string[] = [];
  const turns: Turn[] = [];
  const add = (role: Turn['role'], blocks: Block[]) => {
    if (blocks.length === 0) return;
    const last = turns.at(-1);
    if (last?.role === role) last.content.push(...blocks);
    else turns.push({ role, content: blocks });
  };
  messages.forEach((m, i) => {
    const param = `messages[${i}]`;
    switch (m.role) {
      case 'system':
      case 'developer': {
        const text = contentText(m.content, `${param}.content`);
        if (text.length > 0) system.push(text);
        break;
      }
      case 'user':
        add('user', userBlocks(m.content, param));
        break;
      case 'assistant':
        add('assistant', assistantBlocks(m, param));
        break;
      case 'tool':
        add('user', [toolResult(m, param)]);
        break;
      default:
        throw invalid(`${param}: role '${m.role}' is not supported for Anthropic models.`, `${param}.role`);
    }
  });
  const joined = system.length === 0 ? null : system.length === 1 ? system[0]! : system.map((text) => ({ type: 'text', text }));
  return { system: joined, turns };
}

function userBlocks(content: unknown, param: string): Block[] {
  return contentParts(content, `${param}.content`).flatMap((part, j): Block[] => {
    const p = `${param}.content[${j}]`;
    switch (part.type) {
      case 'text':
        return part.text ? [withCacheControl({ type: 'text', text: part.text }, part)] : [];
      case 'image_url':
        return [withCacheControl(imageBlock(part, p), part)];
      case 'file':
        return [withCacheControl(documentBlock(part, p), part)];
      default:
        throw invalid(`${p}: content of type '${part.type}' is not supported for Anthropic models.`, p);
    }
  });
}

/** data: URLs travel as base64, http(s) URLs as URLs Anthropic fetches itself. */
function imageBlock(part: ContentPart, param: string): Block {
  const url = imageUrlOf(part);
  const data = url ? parseDataUrl(url) : null;
  if (data) return { type: 'image', source: { type: 'base64', media_type: data.mediaType, data: data.data } };
  if (url && /^https?:\/\//i.test(url)) return { type: 'image', source: { type: 'url', url } };
  throw invalid(`${param}: image_url.url must be a data: URL (base64) or an http(s) URL.`, param);
}

function documentBlock(part: ContentPart, param: string): Block {
  const data = typeof part.file?.file_data === 'string' ? parseDataUrl(part.file.file_data) : null;
  if (data?.mediaType === 'application/pdf') return { type: 'document', source: { type: 'base64', media_type: 'application/pdf', data: data.data } };
  if (data?.mediaType === 'text/plain') {
    return { type: 'document', source: { type: 'text', media_type: 'text/plain', data: Buffer.from(data.data, 'base64').toString('utf8') } };
  }
  throw invalid(`${param}: only file_data PDFs or plain text (as data: URLs) can be sent to Anthropic models.`, param);
}

/** Anthropic prompt caching: a part's `cache_control` (an extension some OpenAI clients send) is kept. */
function withCacheControl(block: Block, part: ContentPart): Block {
  return part.cache_control === undefined ? block : { ...block, cache_control: part.cache_control };
}

function assistantBlocks(m: ChatMessage, param: string): Block[] {
  const text = contentText(m.content, `${param}.content`);
  const blocks: Block[] = text.length > 0 ? [{ type: 'text', text }] : [];
  for (const call of toolCallsOf(m, param)) {
    blocks.push({ type: 'tool_use', id: call.id, name: call.name, input: parseToolArguments(call, `${param}.tool_calls`) });
  }
  return blocks;
}

function toolResult(m: ChatMessage, param: string): Block {
  if (typeof m.tool_call_id !== 'string') throw invalid(`${param}: a tool message needs 'tool_call_id'.`, `${param}.tool_call_id`);
  const text = contentText(m.content, `${param}.content`);
  return { type: 'tool_result', tool_use_id: m.tool_call_id, ...(text.length > 0 ? { content: text } : {}) };
}

function anthropicTool(fn: FunctionTool): Block {
  return {
    name: fn.name,
    ...(fn.description ? { description: fn.description } : {}),
    input_schema: fn.parameters ?? { type: 'object', properties: {} },
    ...(fn.strict === true ? { strict: true } : {}),
  };
}

/** auto/none/required/{function} → auto/none/any/tool; parallel_tool_calls: false → disable_parallel_tool_use. */
function toolChoice(body: ChatBody): Block | null {
  const choice = body.tool_choice as string | { type?: string; function?: { name?: unknown } } | undefined | null;
  const serial = body.parallel_tool_calls === false;
  let out: Block;
  if (choice === undefined || choice === null || choice === 'auto') {
    if (!serial) return null;
    out = { type: 'auto' };
  } else if (choice === 'none') {
    return { type: 'none' };
  } else if (choice === 'required') {
    out = { type: 'any' };
  } else if (typeof choice === 'object' && typeof choice.function?.name === 'string') {
    out = { type: 'tool', name: choice.function.name };
  } else {
    throw invalid("'tool_choice' must be 'auto', 'none', 'required' or {type: 'function', function: {name}}.", 'tool_choice');
  }
  if (serial) out.disable_parallel_tool_use = true;
  return out;
}

/** json_schema → output_config.format (Anthropic structured outputs). json_object has no Anthropic form. */
function outputConfig(body: ChatBody): Block | null {
  const format = body.response_format as { type?: string; json_schema?: { schema?: unknown } } | undefined | null;
  if (!format || format.type === 'text' || format.type === 'json_object') return null;
  const schema = format.json_schema?.schema;
  if (format.type === 'json_schema' && typeof schema === 'object' && schema !== null) return { format: { type: 'json_schema', schema } };
  throw invalid("'response_format' must be text, json_object or json_schema with a schema.", 'response_format');
}

function tokenLimits(body: ChatBody, modelMax: number | null): { maxTokens: number; thinking: Block | null } {
  const asked = maxTokensOf(body);
  const capped = (n: number) => (modelMax === null ? n : Math.min(n, modelMax));
  const budget = thinkingBudget(body);
  if (budget === null) return { maxTokens: asked ?? capped(DEFAULT_MAX_TOKENS), thinking: null };
  if (budget === 0) return { maxTokens: asked ?? capped(DEFAULT_MAX_TOKENS), thinking: { type: 'disabled' } };
  const maxTokens = asked ?? capped(DEFAULT_MAX_TOKENS + budget);
  const fitted = Math.min(budget, maxTokens - 1);
  if (fitted < MIN_THINKING_BUDGET) {
    throw invalid(
      `Anthropic thinking needs a budget of at least ${MIN_THINKING_BUDGET} tokens below max_tokens: with reasoning_effort, set max_completion_tokens above ${MIN_THINKING_BUDGET}.`,
      'max_completion_tokens',
    );
  }
  return { maxTokens, thinking: { type: 'enabled', budget_tokens: fitted } };
}
