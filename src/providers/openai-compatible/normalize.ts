/** Where an OpenAI-compatible vendor's answer strays from OpenAI's shape, per its catalog flags. */
import type { OpenAICompat } from '../../catalog/types.ts';
import { flattenContentParts } from './content-parts.ts';
import { completeToolCalls } from './tool-calls.ts';

/** Cheap test on the raw chunk: only chunks that may need fixing are parsed. */
export function needsNormalizing(compat: OpenAICompat | null, data: string): boolean {
  if (!compat) return false;
  return (compat.tool_calls_incomplete && data.includes('"tool_calls"')) || (compat.content_parts && data.includes('"content":['));
}

/** Fixes a body or chunk in place; returns whether it changed (and must be re-serialised). */
export function normalize(compat: OpenAICompat, body: Record<string, unknown>, toolCalls: { nextIndex: number }): boolean {
  const b = body as Parameters<typeof completeToolCalls>[0] & Parameters<typeof flattenContentParts>[0];
  const tools = compat.tool_calls_incomplete && completeToolCalls(b, toolCalls);
  const parts = compat.content_parts && flattenContentParts(b);
  return tools || parts;
}
