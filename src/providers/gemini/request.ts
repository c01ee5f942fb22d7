/**
 * A unified chat.completions body → a Gemini generateContent body: contents (messages.ts), tools
 * and tool_choice, generationConfig (sampling, top_k → topK, stop, structured output) and thinking.
 */
import { exactThinkingBudget, functionTools, invalid, maxTokensOf, requireSingleChoice, stopSequencesOf, THINKING_BUDGETS, topKOf, type ChatBody } from '../unified/request-fields.ts';
import { toGeminiContents } from './messages.ts';

export function toGenerateContent(body: ChatBody, upstreamModel: string): Record<string, unknown> {
  requireSingleChoice(body, 'Gemini (through the unified API)');
  const { systemInstruction, contents } = toGeminiContents(body);
  const out: Record<string, unknown> = { contents };
  if (systemInstruction) out.systemInstruction = systemInstruction;
  const tools = functionTools(body);
  if (tools.length > 0) {
    // OpenAI tools carry JSON Schema, which Gemini takes unchanged in `parametersJsonSchema` (its
    // `parameters` field is an OpenAPI subset that rejects e.g. additionalProperties).
    const declarations = tools.map(({ name, description, parameters }) => ({
      name,
      ...(description === undefined ? {} : { description }),
      ...(parameters === undefined ? {} : { parametersJsonSchema: parameters }),
    }));
    out.tools = [{ functionDeclarations: declarations }];
  }
  const toolConfig = functionCallingConfig(body.tool_choice);
  if (toolConfig) out.toolConfig = { functionCallingConfig: toolConfig };
  const generationConfig = generation(body, upstreamModel);
  if (Object.keys(generationConfig).length > 0) out.generationConfig = generationConfig;
  return out;
}

function functionCallingConfig(choice: unknown): Record<string, unknown> | null {
  if (choice === undefined || choice === null) return null;
  if (choice === 'auto') return { mode: 'AUTO' };
  if (choice === 'none') return { mode: 'NONE' };
  if (choice === 'required') return { mode: 'ANY' };
  const c = choice as { type?: string; function?: { name?: unknown }; allowed_tools?: { mode?: string; tools?: { function?: { name?: unknown } }[] } };
  if (c.type === 'function' && typeof c.function?.name === 'string') return { mode: 'ANY', allowedFunctionNames: [c.function.name] };
  if (c.type === 'allowed_tools' && c.allowed_tools) {
    const names = (c.allowed_tools.tools ?? []).map((t) => t.function?.name).filter((n): n is string => typeof n === 'string');
    // Gemini narrows the callable functions only in ANY mode; `auto` over a subset stays AUTO.
    return c.allowed_tools.mode === 'required' ? { mode: 'ANY', allowedFunctionNames: names } : { mode: 'AUTO' };
  }
  throw invalid("'tool_choice' must be auto, none, required, a named function or allowed_tools.", 'tool_choice');
}

function generation(body: ChatBody, upstreamModel: string): Record<string, unknown> {
  const config: Record<string, unknown> = {};
  const maxTokens = maxTokensOf(body);
  if (maxTokens !== null) config.maxOutputTokens = maxTokens;
  for (const [from, to] of NUMBER_FIELDS) if (typeof body[from] === 'number') config[to] = body[from];
  const topK = topKOf(body);
  if (topK !== null) config.topK = topK;
  const stop = stopSequencesOf(body);
  if (stop) config.stopSequences = stop;

  const format = body.response_format as { type?: string; json_schema?: { schema?: unknown } } | undefined;
  if (format?.type === 'json_object' || format?.type === 'json_schema') {
    config.responseMimeType = 'application/json';
    if (format.type === 'json_schema' && format.json_schema?.schema !== undefined) config.responseJsonSchema = format.json_schema.schema;
  }
  const thinking = thinkingConfig(body, upstreamModel);
  if (thinking) config.thinkingConfig = thinking;
  return config;
}

const NUMBER_FIELDS: readonly [string, string][] = [
  ['temperature', 'temperature'],
  ['top_p', 'topP'],
  ['presence_penalty', 'presencePenalty'],
  ['frequency_penalty', 'frequencyPenalty'],
  ['seed', 'seed'],
];

/**
 * reasoning_effort → thinkingConfig, following the mapping of Google's own OpenAI-compatible
 * endpoint. Gemini 2.5 takes a token budget: none 0 (Flash only; Pro cannot turn thinking off),
 * minimal and low 1024, medium 8192, high and xhigh 24576. Gemini 3 and later take a level: none and
 * minimal → minimal, low, medium, high (xhigh → high). Models before 2.5 do not think: no config.
 * Thought summaries (→ reasoning_content) are asked for whenever the effort is not `none`.
 * An exact budget (the unified `thinking` extension, a bridged Messages request's budget_tokens)
 * goes as thinkingBudget, which Gemini 3 still takes beside its levels (the two never together);
 * `disabled` is budget 0.
 */
function thinkingConfig(body: ChatBody, upstreamModel: string): Record<string, unknown> | null {
  const exact = exactThinkingBudget(body);
  const effort = body.reasoning_effort;
  if (exact === null) {
    if (effort === undefined || effort === null) return null;
    if (typeof effort !== 'string' || !(effort in THINKING_BUDGETS)) {
      throw invalid(`'reasoning_effort' must be one of ${Object.keys(THINKING_BUDGETS).join(', ')}.`, 'reasoning_effort');
    }
  }
  if (/^gemini-(1\.|2\.0)/.test(upstreamModel)) return null;
  // 2.5 Flash (and Flash-Lite) take at most 24576; Pro and Gemini 3 up to 32768 (Google's ranges).
  if (exact !== null) return { thinkingBudget: upstreamModel.startsWith('gemini-2.5-flash') ? Math.min(exact, 24576) : exact, includeThoughts: exact > 0 };
  const level = effort as string;
  const includeThoughts = level !== 'none';
  if (upstreamModel.startsWith('gemini-2.5')) return { thinkingBudget: BUDGETS[level], includeThoughts };
  return { thinkingLevel: LEVELS[level], includeThoughts };
}

const BUDGETS: Record<string, number> = { none: 0, minimal: 1024, low: 1024, medium: 8192, high: 24576, xhigh: 24576 };
const LEVELS: Record<string, string> = { none: 'minimal', minimal: 'minimal', low: 'low', medium: 'medium', high: 'high', xhigh: 'high' };
