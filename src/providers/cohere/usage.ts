/**
 * Cohere usage → Usage. Cohere reports `billed_units` and `tokens`, and they differ (recording
 * cohere-text.json: 12 billed input tokens, 507 tokens): the vendor bills billed_units, so managed
 * metering charges those (DESIGN.md, wire facts). `cached_tokens` counts against `tokens`, not the
 * billed units (448 cached of 12 billed), so it is not reported as a share of the billed prompt.
 */
import { reported, type Usage } from '../../metering/usage.ts';

interface Units {
  input_tokens?: number;
  output_tokens?: number;
}

/** `holder` is a chat `usage` or an embed `meta`: both carry billed_units (and chat carries tokens). */
export function usageFromCohere(holder: unknown, embeddings = false): Usage | null {
  if (typeof holder !== 'object' || holder === null) return null;
  const { billed_units, tokens } = holder as { billed_units?: Units; tokens?: Units };
  const units = hasCounts(billed_units) ? billed_units : hasCounts(tokens) ? tokens : null;
  if (!units) return null;
  return reported(units.input_tokens ?? 0, embeddings ? 0 : (units.output_tokens ?? 0));
}

function hasCounts(units: Units | undefined): units is Units {
  return typeof units?.input_tokens === 'number' || typeof units?.output_tokens === 'number';
}
