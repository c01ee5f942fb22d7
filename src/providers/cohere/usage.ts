/**
 * Cohere usage → Usage. Cohere reports `billed_units` and `tokens`, and they differ (recording
 * cohere-text.json: 12 billed input tokens, 507 tokens): the vendor bills billed_units, so managed
 * metering charges those (DESIGN.md, wire facts). `cached_tokens` counts against `tokens`, not the
 * billed units (448 cached of 12 billed), so it is not reported as a share of the billed prompt.
 * Rerank bills searches, not tokens: billed_units.search_units.
 */
import { tokenCount, type Usage } from '../../metering/usage.ts';
import { usageFromParts } from '../usage-classes.ts';

interface Units {
  input_tokens?: unknown;
  output_tokens?: unknown;
  search_units?: unknown;
}

/** `holder` is a chat `usage` or an embed/rerank `meta`: both carry billed_units (and chat carries tokens). */
export function usageFromCohere(holder: unknown, embeddings = false): Usage | null {
  if (typeof holder !== 'object' || holder === null) return null;
  const { billed_units, tokens } = holder as { billed_units?: Units; tokens?: Units };
  const units = hasCounts(billed_units) ? billed_units : hasCounts(tokens) ? tokens : null;
  if (!units) return null;
  return usageFromParts({
    prompt: tokenCount(units.input_tokens),
    completion: embeddings ? 0 : tokenCount(units.output_tokens),
    units: { search: tokenCount(units.search_units) },
  });
}

function hasCounts(units: Units | undefined): units is Units {
  return typeof units?.input_tokens === 'number' || typeof units?.output_tokens === 'number' || typeof units?.search_units === 'number';
}
