/**
 * The Gemini generateContent wire shapes Tollbooth reads and writes (ai.google.dev/api). Only the
 * fields the translation touches are typed; everything else passes as unknown.
 */

export interface GeminiPart {
  text?: string;
  /** A thought summary (only with thinkingConfig.includeThoughts). */
  thought?: boolean;
  thoughtSignature?: string;
  inlineData?: { mimeType: string; data: string };
  fileData?: { mimeType?: string; fileUri: string };
  functionCall?: GeminiFunctionCall;
  functionResponse?: { name: string; response: Record<string, unknown> };
}

export interface GeminiFunctionCall {
  name?: string;
  args?: Record<string, unknown>;
  /** Vertex streamed arguments (google-stream-tool-call-arguments.chunks.txt). */
  partialArgs?: PartialArg[];
  willContinue?: boolean;
}

export interface PartialArg {
  jsonPath: string;
  stringValue?: string;
  numberValue?: number;
  boolValue?: boolean;
  nullValue?: unknown;
  willContinue?: boolean;
}

export interface GeminiContent {
  role?: 'user' | 'model';
  parts: GeminiPart[];
}

export interface GeminiCandidate {
  content?: { role?: string; parts?: GeminiPart[] };
  finishReason?: string;
  index?: number;
}

export interface GeminiUsageMetadata {
  promptTokenCount?: number;
  candidatesTokenCount?: number;
  thoughtsTokenCount?: number;
  cachedContentTokenCount?: number;
  toolUsePromptTokenCount?: number;
  totalTokenCount?: number;
}

export interface GeminiResponse {
  candidates?: GeminiCandidate[];
  promptFeedback?: { blockReason?: string };
  usageMetadata?: GeminiUsageMetadata;
  modelVersion?: string;
  responseId?: string;
  /** An error object inside a 200 stream. */
  error?: { code?: number; message?: string; status?: string };
}
