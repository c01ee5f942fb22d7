/**
 * Unified rerank ↔ Cohere v2 rerank (POST /v2/rerank). The unified request is the shape Cohere,
 * Jina and Together share: {model, query, documents, top_n, return_documents}. Cohere v2 takes
 * documents as strings and no longer returns them (return_documents is a v1 field), so a `{text}`
 * document is sent as its text, any other object as its JSON, and the documents asked back are
 * added to the results from the request. The answer keeps Cohere's own fields (id, results, meta).
 *
 * Cohere bills rerank in search units (one query over up to 100 documents), reported in
 * `meta.billed_units.search_units` (cohere-reranking.1.json): metered as `units.search`, with the
 * billed tokens where the meta reports any.
 */
import { reported, tokenCount, type Usage } from '../../metering/usage.ts';
import type { Target } from '../../routing/target.ts';
import { invalid } from '../unified/request-fields.ts';

/** What translating a rerank answer needs from its request. */
export interface RerankContext {
  /** The documents as sent, when the caller asked for them back; null otherwise. */
  returned: string[] | null;
}

export function rerankRequest(body: Record<string, unknown>, target: Target): { payload: Record<string, unknown>; context: RerankContext } {
  if (!Array.isArray(body.documents)) throw invalid("'documents' must be an array of strings or objects.", 'documents');
  const documents = body.documents.map(documentText);
  const payload: Record<string, unknown> = { model: target.upstreamModel, query: body.query, documents };
  if (body.top_n !== undefined) payload.top_n = body.top_n;
  if (body.max_tokens_per_doc !== undefined) payload.max_tokens_per_doc = body.max_tokens_per_doc;
  return { payload, context: { returned: body.return_documents === true ? documents : null } };
}

export function rerankFromCohere(body: Record<string, unknown>, target: Target, context: RerankContext): { body: string; usage: Usage | null } {
  const results = Array.isArray(body.results) ? (body.results as Record<string, unknown>[]) : [];
  const withDocuments = context.returned === null ? results : results.map((r) => withDocument(r, context.returned!));
  return {
    body: JSON.stringify({ ...body, model: typeof body.model === 'string' ? body.model : target.upstreamModel, results: withDocuments }),
    usage: usageOfRerank(body.meta),
  };
}

/** Cohere's rerank meta → Usage: search units as `units.search`, billed tokens where reported. */
export function usageOfRerank(meta: unknown): Usage | null {
  const billed = (meta as { billed_units?: Record<string, unknown> } | null | undefined)?.billed_units;
  if (typeof billed !== 'object' || billed === null) return null;
  const usage = reported(tokenCount(billed.input_tokens), tokenCount(billed.output_tokens));
  // A count as the vendor reported it, made a whole non-negative number (fractions round up).
  const searches = tokenCount(billed.search_units);
  return searches > 0 ? { ...usage, units: { search: searches } } : usage;
}

function documentText(document: unknown): string {
  if (typeof document === 'string') return document;
  if (typeof document === 'object' && document !== null) {
    const text = (document as { text?: unknown }).text;
    return typeof text === 'string' && Object.keys(document).length === 1 ? text : JSON.stringify(document);
  }
  throw invalid("Each of 'documents' must be a string or an object.", 'documents');
}

function withDocument(result: Record<string, unknown>, documents: string[]): Record<string, unknown> {
  const text = typeof result.index === 'number' ? documents[result.index] : undefined;
  return text === undefined ? result : { ...result, document: { text } };
}
