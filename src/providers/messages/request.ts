/**
 * An Anthropic Messages request → the unified (OpenAI chat.completions) request, for every provider
 * that is not Anthropic: the provider's own adapter takes it from there. What a chat API cannot
 * carry is said, not dropped in silence: server tools (web search, bash, …) are a 400 naming the
 * tool; thinking blocks from earlier turns are not sent back (their signatures only mean something
 * to Anthropic); `metadata` and `cache_control` are not forwarded (OpenAI, Azure, xAI, DeepSeek and
 * Gemini cache repeated prefixes on their own; the cached count comes back as
 * cache_read_input_tokens); `max_tokens` is capped at the served model's output limit.
 *
 * `thinking` and `top_k` go where the target's chat API has an equivalent (carry()).
 */
import { GatewayError } from '../../errors/catalog.ts';
import type { Target } from '../../routing/target.ts';
import { effortForBudget } from '../unified/request-fields.ts';

type Json = Record<string, unknown>;

interface Block {
  type?: string;
  text?: string;
  source?: { type?: string; media_type?: string; data?: string; url?: string };
  id?: string;
  name?: string;
  input?: unknown;
  tool_use_id?: string;
  content?: unknown;
  is_error?: boolean;
  title?: string;
}

function invalid(message: string, param: string): GatewayError {
  return new GatewayError('invalid_request', message, { param });
}

/** The unified chat body for `target`, from a Messages body. */
export function chatFromMessages(body: Json, target: Target): Json {
  const messages: Json[] = [];
  const system = systemText(body.system);
  if (system) messages.push({ role: 'system', content: system });
  if (!Array.isArray(body.messages)) throw invalid("'messages' must be an array.", 'messages');
  body.messages.forEach((m, i) => messages.push(...turn(m as Json, `messages[${i}]`)));
  const openAI = target.provider.name === 'openai' || target.provider.name === 'azure';
  const chat: Json = { model: target.model?.model_id ?? body.model, messages };
  if (typeof body.max_tokens === 'number') chat[openAI ? 'max_completion_tokens' : 'max_tokens'] = withinModel(body.max_tokens, target);
  for (const key of ['temperature', 'top_p'] as const) if (typeof body[key] === 'number') chat[key] = body[key];
  if (Array.isArray(body.stop_sequences) && body.stop_sequences.length > 0) chat.stop = body.stop_sequences;
  if (body.stream === true) chat.stream = true;
  if (Array.isArray(body.tools) && body.tools.length > 0) chat.tools = body.tools.map((t, i) => tool(t as Json, `tools[${i}]`));
  Object.assign(chat, toolChoice(body.tool_choice), carry(body, target.provider.api === 'openai' || target.provider.api === 'azure'));
  return chat;
}

/**
 * `thinking` and `top_k`, by the target's wire. Gemini, Cohere and Bedrock (and Anthropic) read the
 * unified request's extensions of the same names: the exact budget (Gemini thinkingBudget with
 * thoughts included, Cohere token_budget, Claude's budget on Bedrock, Nova's effort) and topK / k /
 * additionalModelRequestFields. The OpenAI wire (OpenAI, Azure and the OpenAI-compatible vendors)
 * takes an effort, not a budget: reasoning_effort low below 4096 tokens, medium below 16384, high
 * from there; it has no top_k, which is dropped. Only `{type: enabled, budget_tokens}` is carried:
 * `disabled` is Anthropic's default, and with `adaptive` the target's own default thinking applies.
 */
function carry(body: Json, openAIWire: boolean): Json {
  const out: Json = {};
  const thinking = body.thinking as { type?: unknown; budget_tokens?: unknown } | undefined | null;
  const budget = thinking?.type === 'enabled' ? thinking.budget_tokens : undefined;
  if (budget !== undefined) {
    if (!Number.isSafeInteger(budget) || (budget as number) < 1) throw invalid('thinking.budget_tokens must be a positive integer.', 'thinking.budget_tokens');
    if (openAIWire) out.reasoning_effort = effortForBudget(budget as number);
    else out.thinking = { type: 'enabled', budget_tokens: budget };
  }
  if (!openAIWire && body.top_k !== undefined) out.top_k = body.top_k;
  return out;
}

/**
 * Anthropic requires max_tokens, and agents ask for a lot (Claude Code: tens of thousands): past
 * the served model's own output limit (catalog max_output_tokens) other providers refuse the call.
 */
export function withinModel(maxTokens: number, target: Target): number {
  const limit = target.model?.max_output_tokens;
  return typeof limit === 'number' && limit > 0 ? Math.min(maxTokens, limit) : maxTokens;
}

function systemText(system: unknown): string {
  if (typeof system === 'string') return system;
  if (!Array.isArray(system)) return '';
  return (system as Block[]).filter((b) => b?.type === 'text').map((b) => b.text ?? '').join('\n');
}

/** One Messages turn → chat messages: tool results become `tool` messages ahead of the rest. */
function turn(m: Json, param: string): Json[] {
  const role = m?.role;
  if (role !== 'user' && role !== 'assistant') throw invalid(`${param}.role must be 'user' or 'assistant'.`, `${param}.role`);
  const blocks: Block[] = typeof m.content === 'string' ? [{ type: 'text', text: m.content }] : Array.isArray(m.content) ? (m.content as Block[]) : [];
  if (role === 'assistant') {
    const text = blocks.filter((b) => b?.type === 'text').map((b) => b.text ?? '').join('');
    const calls = blocks
      .filter((b) => b?.type === 'tool_use')
      .map((b) => ({ id: b.id, type: 'function', function: { name: b.name, arguments: JSON.stringify(b.input ?? {}) } }));
    return [{ role: 'assistant', content: text.length > 0 || calls.length === 0 ? text : null, ...(calls.length > 0 ? { tool_calls: calls } : {}) }];
  }
  const out: Json[] = [];
  const parts: Json[] = [];
  blocks.forEach((b, j) => {
    const where = `${param}.content[${j}]`;
    switch (b?.type) {
      case 'text':
        parts.push({ type: 'text', text: b.text ?? '' });
        break;
      case 'image':
        parts.push({ type: 'image_url', image_url: { url: sourceUrl(b, where) } });
        break;
      case 'document':
        parts.push(documentPart(b, where));
        break;
      case 'tool_result':
        out.push({ role: 'tool', tool_call_id: b.tool_use_id, content: (b.is_error ? 'Error: ' : '') + resultText(b.content) });
        break;
      default:
        throw invalid(`${where}: content blocks of type '${String(b?.type)}' cannot be sent to this model's provider.`, where);
    }
  });
  if (parts.length > 0) out.push({ role: 'user', content: parts.every((p) => p.type === 'text') ? parts.map((p) => p.text).join('') : parts });
  return out;
}

function sourceUrl(b: Block, where: string): string {
  const s = b.source;
  if (s?.type === 'base64' && typeof s.data === 'string') return `data:${s.media_type ?? 'application/octet-stream'};base64,${s.data}`;
  if (s?.type === 'url' && typeof s.url === 'string') return s.url;
  throw invalid(`${where}: only base64 and url sources can be sent to this model's provider.`, where);
}

function documentPart(b: Block, where: string): Json {
  if (b.source?.type === 'text' && typeof b.source.data === 'string') return { type: 'text', text: b.source.data };
  return { type: 'file', file: { file_data: sourceUrl(b, where), ...(b.title ? { filename: b.title } : {}) } };
}

function resultText(content: unknown): string {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return '';
  return (content as Block[]).filter((b) => b?.type === 'text').map((b) => b.text ?? '').join('');
}

function tool(t: Json, param: string): Json {
  // Client tools have an input_schema (type absent or 'custom'); anything else is a server tool.
  if (typeof t?.name !== 'string' || (t.type !== undefined && t.type !== 'custom') || typeof t.input_schema !== 'object') {
    const name = typeof t?.type === 'string' ? t.type : String(t?.name);
    throw invalid(`${param}: the Anthropic server tool '${name}' is not available on this model's provider; only client tools with an input_schema are.`, param);
  }
  return { type: 'function', function: { name: t.name, ...(typeof t.description === 'string' ? { description: t.description } : {}), parameters: t.input_schema } };
}

function toolChoice(choice: unknown): Json {
  const c = choice as { type?: string; name?: string; disable_parallel_tool_use?: boolean } | undefined;
  if (!c || typeof c !== 'object') return {};
  const serial = c.disable_parallel_tool_use === true ? { parallel_tool_calls: false } : {};
  switch (c.type) {
    case 'auto':
      return { tool_choice: 'auto', ...serial };
    case 'any':
      return { tool_choice: 'required', ...serial };
    case 'none':
      return { tool_choice: 'none' };
    case 'tool':
      return { tool_choice: { type: 'function', function: { name: c.name } }, ...serial };
    default:
      throw invalid(`tool_choice.type '${String(c.type)}' is not one of auto, any, tool, none.`, 'tool_choice');
  }
}
