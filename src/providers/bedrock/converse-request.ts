/**
 * Unified chat request → Bedrock Converse request body
 * (https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_Converse.html).
 * Converse wants strictly alternating user/assistant turns, system text apart, tool results as
 * blocks of a user turn and images as raw bytes (base64 in JSON): the adapter does no I/O, so only
 * `data:` image URLs can be sent.
 */
import { GatewayError } from '../../errors/catalog.ts';
import { effortForBudget, exactThinkingBudget, topKOf } from '../unified/request-fields.ts';

type Block = Record<string, unknown>;
interface Turn {
  role: 'user' | 'assistant';
  content: Block[];
}

interface ChatMessage {
  role?: unknown;
  content?: unknown;
  tool_calls?: unknown;
  tool_call_id?: unknown;
}

const IMAGE_FORMATS: Record<string, string> = { png: 'png', jpeg: 'jpeg', jpg: 'jpeg', gif: 'gif', webp: 'webp' };

/**
 * Thinking budgets for Claude on Bedrock per `reasoning_effort` (Anthropic's minimum is 1024).
 * Nova 2 takes the effort itself (reasoningConfig.maxReasoningEffort).
 */
const CLAUDE_THINKING_BUDGET: Record<string, number> = { minimal: 1024, low: 1024, medium: 4096, high: 16384, xhigh: 32768 };
/** Room left for the answer when thinking is on and the caller set no max_tokens. */
const ANSWER_ROOM = 4096;

export function converseRequest(body: Record<string, unknown>, upstreamModel: string, maxOutputTokens: number | null): Record<string, unknown> {
  const system: Block[] = [];
  const turns: Turn[] = [];
  const messages = Array.isArray(body.messages) ? (body.messages as ChatMessage[]) : [];
  messages.forEach((m, i) => {
    const role = m.role;
    if (role === 'system' || role === 'developer') {
      for (const text of texts(m.content, i)) system.push({ text });
    } else if (role === 'user') {
      push(turns, 'user', userBlocks(m.content, i));
    } else if (role === 'assistant') {
      push(turns, 'assistant', [...texts(m.content, i).map((text) => ({ text })), ...toolUses(m.tool_calls, i)]);
    } else if (role === 'tool') {
      if (typeof m.tool_call_id !== 'string') invalid(`messages[${i}].tool_call_id`, "A 'tool' message needs the tool_call_id it answers.");
      push(turns, 'user', [{ toolResult: { toolUseId: m.tool_call_id, content: [{ text: texts(m.content, i).join('') }] } }]);
    } else {
      invalid(`messages[${i}].role`, `The role '${String(role)}' is not supported for Bedrock models.`);
    }
  });

  const out: Record<string, unknown> = { messages: turns };
  if (system.length > 0) out.system = system;
  const toolConfig = toolConfiguration(body, turns);
  if (toolConfig) out.toolConfig = toolConfig;

  const inference: Record<string, unknown> = {};
  const maxTokens = body.max_completion_tokens ?? body.max_tokens;
  if (typeof maxTokens === 'number') inference.maxTokens = maxTokens;
  if (typeof body.temperature === 'number') inference.temperature = body.temperature;
  if (typeof body.top_p === 'number') inference.topP = body.top_p;
  if (typeof body.stop === 'string') inference.stopSequences = [body.stop];
  else if (Array.isArray(body.stop) && body.stop.length > 0) inference.stopSequences = body.stop;
  const reasoning = reasoningFields(body, upstreamModel, inference, maxOutputTokens);
  // Claude's thinking takes no sampling changes: temperature and top_p go (above), top_k too.
  const extra = { ...reasoning, ...(reasoning?.thinking ? null : topKField(topKOf(body), upstreamModel)) };
  if (Object.keys(inference).length > 0) out.inferenceConfig = inference;
  if (Object.keys(extra).length > 0) out.additionalModelRequestFields = extra;

  if (typeof body.n === 'number' && body.n > 1) invalid('n', 'Bedrock returns one choice per request: n must be 1.');
  return out;
}

/** Consecutive messages of one role become one turn (Converse rejects two user turns in a row). */
function push(turns: Turn[], role: Turn['role'], content: Block[]): void {
  if (content.length === 0) return;
  const last = turns.at(-1);
  if (last?.role === role) last.content.push(...content);
  else turns.push({ role, content });
}

function texts(content: unknown, i: number): string[] {
  if (content === null || content === undefined) return [];
  if (typeof content === 'string') return content.length > 0 ? [content] : [];
  if (!Array.isArray(content)) invalid(`messages[${i}].content`, 'Message content must be a string or an array of parts.');
  return (content as { type?: unknown; text?: unknown }[]).flatMap((part, j) => {
    if (part.type === 'text' && typeof part.text === 'string') return part.text.length > 0 ? [part.text] : [];
    if (part.type === 'refusal') return [];
    return invalid(`messages[${i}].content[${j}]`, `Content parts of type '${String(part.type)}' are only accepted in user messages.`);
  });
}

function userBlocks(content: unknown, i: number): Block[] {
  if (!Array.isArray(content)) return texts(content, i).map((text) => ({ text }));
  return (content as { type?: unknown; text?: unknown; image_url?: { url?: unknown } }[]).flatMap((part, j): Block[] => {
    if (part.type === 'text' && typeof part.text === 'string') return part.text.length > 0 ? [{ text: part.text }] : [];
    if (part.type === 'image_url' && typeof part.image_url?.url === 'string') return [imageBlock(part.image_url.url, `messages[${i}].content[${j}]`)];
    return invalid(`messages[${i}].content[${j}]`, `Content parts of type '${String(part.type)}' are not supported for Bedrock models.`);
  });
}

function imageBlock(url: string, param: string): Block {
  const match = /^data:image\/([a-z]+);base64,(.*)$/is.exec(url);
  if (!match) {
    return invalid(param, 'Bedrock takes images as bytes: send a data: URL (data:image/png;base64,…); remote image URLs are not fetched.');
  }
  const format = IMAGE_FORMATS[match[1]!.toLowerCase()];
  if (!format) return invalid(param, `Bedrock accepts png, jpeg, gif and webp images, not '${match[1]}'.`);
  return { image: { format, source: { bytes: match[2]! } } };
}

function toolUses(toolCalls: unknown, i: number): Block[] {
  if (!Array.isArray(toolCalls)) return [];
  return (toolCalls as { id?: unknown; function?: { name?: unknown; arguments?: unknown } }[]).map((call, j) => {
    const param = `messages[${i}].tool_calls[${j}]`;
    if (typeof call.id !== 'string' || typeof call.function?.name !== 'string') invalid(param, 'A tool call needs an id and a function name.');
    return { toolUse: { toolUseId: call.id, name: call.function!.name, input: toolInput(call.function!.arguments, param) } };
  });
}

function toolInput(args: unknown, param: string): unknown {
  if (args === undefined || args === null || args === '') return {};
  if (typeof args !== 'string') return args;
  try {
    return JSON.parse(args);
  } catch {
    return invalid(`${param}.function.arguments`, 'Tool-call arguments must be JSON for Bedrock models.');
  }
}

function toolConfiguration(body: Record<string, unknown>, turns: Turn[]): Record<string, unknown> | null {
  const tools = Array.isArray(body.tools) ? (body.tools as { type?: unknown; function?: Record<string, unknown> }[]) : [];
  if (tools.length === 0) return null;
  const specs = tools.map((tool, i) => {
    const fn = tool.function;
    if (tool.type !== 'function' || typeof fn?.name !== 'string') invalid(`tools[${i}]`, 'Only function tools with a name are supported for Bedrock models.');
    const spec: Record<string, unknown> = { name: fn!.name, inputSchema: { json: fn!.parameters ?? { type: 'object', properties: {} } } };
    if (typeof fn!.description === 'string' && fn!.description.length > 0) spec.description = fn!.description;
    return { toolSpec: spec };
  });
  const choice = body.tool_choice;
  const usesTools = turns.some((t) => t.content.some((b) => 'toolUse' in b || 'toolResult' in b));
  // Converse has no "none": without tool history the tools are left out; with it they must stay.
  if (choice === 'none') return usesTools ? { tools: specs } : null;
  const config: Record<string, unknown> = { tools: specs };
  if (choice === 'auto') config.toolChoice = { auto: {} };
  else if (choice === 'required') config.toolChoice = { any: {} };
  else if (typeof choice === 'object' && choice !== null) {
    const name = (choice as { function?: { name?: unknown } }).function?.name;
    if (typeof name !== 'string') invalid('tool_choice', "tool_choice must be 'auto', 'required', 'none' or {type:'function', function:{name}}.");
    config.toolChoice = { tool: { name } };
  }
  return config;
}

/**
 * reasoning_effort → the model family's own switch: a thinking budget for Claude (which also needs
 * max_tokens above the budget, and no temperature), maxReasoningEffort for Nova 2. Other families
 * have no documented switch and get none. An exact budget (the unified `thinking` extension) is
 * Claude's budget as given, and the effort whose range holds it for Nova.
 */
function reasoningFields(
  body: Record<string, unknown>,
  upstreamModel: string,
  inference: Record<string, unknown>,
  maxOutputTokens: number | null,
): Record<string, unknown> | null {
  const exact = exactThinkingBudget(body);
  if (exact === 0) return null;
  const effort = exact === null ? body.reasoning_effort : effortForBudget(exact);
  if (typeof effort !== 'string' || effort === 'none') return null;
  if (upstreamModel.includes('anthropic.claude')) {
    const budget = exact ?? CLAUDE_THINKING_BUDGET[effort] ?? CLAUDE_THINKING_BUDGET.medium!;
    // The caller's max_tokens is theirs to split; otherwise the answer keeps ANSWER_ROOM tokens.
    const callerMax = typeof inference.maxTokens === 'number';
    if (!callerMax) inference.maxTokens = Math.min(budget + ANSWER_ROOM, maxOutputTokens ?? Infinity);
    delete inference.temperature;
    delete inference.topP;
    const room = (inference.maxTokens as number) - (callerMax ? 1 : ANSWER_ROOM);
    return { thinking: { type: 'enabled', budget_tokens: Math.max(1024, Math.min(budget, room)) } };
  }
  if (upstreamModel.includes('amazon.nova-2')) {
    const level = effort === 'minimal' ? 'low' : effort === 'xhigh' ? 'high' : effort;
    return { reasoningConfig: { type: 'enabled', maxReasoningEffort: level } };
  }
  return null;
}

/**
 * top_k has no Converse inferenceConfig field: Claude takes it as `top_k`, Nova as
 * inferenceConfig.topK, both in additionalModelRequestFields; other families get none.
 */
function topKField(topK: number | null, upstreamModel: string): Record<string, unknown> | null {
  if (topK === null) return null;
  if (upstreamModel.includes('anthropic.claude')) return { top_k: topK };
  if (upstreamModel.includes('amazon.nova')) return { inferenceConfig: { topK } };
  return null;
}

function invalid(param: string, message: string): never {
  throw new GatewayError('invalid_request', message, { param });
}
