/**
 * OpenAI chat messages → Gemini `systemInstruction` and `contents`. System (and developer) messages
 * become the system instruction; assistant turns are role `model`; tool results become
 * functionResponse parts named after the tool call they answer.
 */
import {
  contentParts,
  contentText,
  imageUrlOf,
  invalid,
  messagesOf,
  parseDataUrl,
  parseToolArguments,
  toolCallsOf,
  type ChatBody,
  type ContentPart,
} from '../unified/request-fields.ts';
import type { GeminiContent, GeminiPart } from './wire.ts';

/**
 * Gemini 3 rejects a replayed function call without its thought signature. Callers get ours in
 * `extra_content.google.thought_signature` (response.ts); one that did not keep it gets the
 * placeholder Google documents for histories that come from elsewhere.
 */
const SIGNATURE_PLACEHOLDER = 'skip_thought_signature_validator';

export function toGeminiContents(body: ChatBody): { systemInstruction: GeminiContent | null; contents: GeminiContent[] } {
  const system: GeminiPart[] = [];
  const contents: GeminiContent[] = [];
  const toolNames = new Map<string, string>();
  const push = (role: 'user' | 'model', parts: GeminiPart[]) => {
    if (parts.length === 0) return;
    const last = contents.at(-1);
    // Gemini wants turns to alternate: consecutive messages of one role (parallel tool results) merge.
    if (last?.role === role) last.parts.push(...parts);
    else contents.push({ role, parts });
  };

  messagesOf(body).forEach((m, i) => {
    const param = `messages[${i}]`;
    switch (m.role) {
      case 'system':
      case 'developer':
        system.push(...textPart(contentText(m.content, `${param}.content`)));
        break;
      case 'user':
        push('user', contentParts(m.content, `${param}.content`).map((p, j) => userPart(p, `${param}.content[${j}]`)));
        break;
      case 'assistant': {
        const parts = textPart(contentText(m.content, `${param}.content`));
        const raw = m.tool_calls as { extra_content?: { google?: { thought_signature?: unknown } } }[] | undefined;
        toolCallsOf(m, param).forEach((call, j) => {
          toolNames.set(call.id, call.name);
          const signature = raw?.[j]?.extra_content?.google?.thought_signature;
          parts.push({
            functionCall: { name: call.name, args: parseToolArguments(call, `${param}.tool_calls[${j}]`) },
            thoughtSignature: typeof signature === 'string' ? signature : SIGNATURE_PLACEHOLDER,
          });
        });
        push('model', parts);
        break;
      }
      case 'tool': {
        const id = typeof m.tool_call_id === 'string' ? m.tool_call_id : '';
        const name = toolNames.get(id);
        if (name === undefined) throw invalid(`${param}: tool_call_id '${id}' answers no earlier assistant tool call.`, `${param}.tool_call_id`);
        push('user', [{ functionResponse: { name, response: toolResponse(contentText(m.content, `${param}.content`)) } }]);
        break;
      }
      default:
        throw invalid(`${param}: role '${m.role}' is not supported by Gemini.`, `${param}.role`);
    }
  });
  return { systemInstruction: system.length > 0 ? { parts: system } : null, contents };
}

function textPart(text: string): GeminiPart[] {
  return text.length > 0 ? [{ text }] : [];
}

function userPart(part: ContentPart, param: string): GeminiPart {
  switch (part.type) {
    case 'text':
      return { text: part.text ?? '' };
    case 'image_url':
      return mediaPart(imageUrlOf(part) ?? '', param);
    case 'input_audio': {
      const audio = part.input_audio as { data?: string; format?: string } | undefined;
      return { inlineData: { mimeType: audio?.format === 'mp3' ? 'audio/mp3' : 'audio/wav', data: audio?.data ?? '' } };
    }
    case 'file':
      if (typeof part.file?.file_data === 'string') return mediaPart(part.file.file_data, param);
      throw invalid(`${param}: a file part must carry file_data (a data: URL); OpenAI file ids mean nothing to Gemini.`, param);
    default:
      throw invalid(`${param}: content part '${part.type}' is not supported by Gemini.`, param);
  }
}

const MEDIA_TYPES: Record<string, string> = {
  png: 'image/png', jpg: 'image/jpeg', jpeg: 'image/jpeg', webp: 'image/webp', gif: 'image/gif',
  heic: 'image/heic', heif: 'image/heif', pdf: 'application/pdf',
};

/** data: URLs travel inline; http(s) URLs as fileData, whose media type Gemini needs up front. */
function mediaPart(url: string, param: string): GeminiPart {
  const data = parseDataUrl(url);
  if (data) return { inlineData: { mimeType: data.mediaType, data: data.data } };
  const path = /^https?:\/\//i.test(url) && URL.canParse(url) ? new URL(url).pathname : null;
  if (path === null) throw invalid(`${param}: an image must be a data: URL (base64) or an http(s) URL.`, param);
  const mimeType = MEDIA_TYPES[/\.([a-z0-9]+)$/i.exec(path)?.[1]?.toLowerCase() ?? ''];
  if (mimeType === undefined) {
    throw invalid(`${param}: Gemini needs the media type of '${path}' up front; send a data: URL, or a URL ending in .png, .jpg, .webp, .gif, .heic or .pdf.`, param);
  }
  return { fileData: { mimeType, fileUri: url } };
}

/** Gemini wants an object: a JSON object result goes as is, anything else under `content`. */
function toolResponse(text: string): Record<string, unknown> {
  try {
    const parsed: unknown = JSON.parse(text);
    if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) return parsed as Record<string, unknown>;
  } catch {
    // not JSON: a plain-text result
  }
  return { content: text };
}
