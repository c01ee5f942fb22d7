/**
 * Deprecation routing: a deprecated or maintenance model routes to its replacement, following the
 * chain. The catalog loader rejects cycles; the guards here still make a runtime loop impossible.
 */
import { GatewayError } from '../errors/catalog.ts';
import type { ModelRecord } from './types.ts';

export const MAX_REPLACEMENT_DEPTH = 8;

export interface Resolution {
  /** The model that will serve. */
  model: ModelRecord;
  /** The id the caller asked for. */
  requested: ModelRecord;
  /** Ids walked through, requested first, serving model last (length 1 when nothing was replaced). */
  chain: string[];
}

const REDIRECTED: ReadonlySet<ModelRecord['status']> = new Set(['deprecated', 'maintenance', 'retired']);

export function resolveModel(models: ReadonlyMap<string, ModelRecord>, modelId: string): Resolution {
  const requested = models.get(modelId);
  if (!requested) {
    throw new GatewayError('model_not_found', `The model '${modelId}' does not exist in the Tollbooth catalog.`, {
      param: 'model',
    });
  }
  const chain = [requested.model_id];
  let current = requested;
  while (REDIRECTED.has(current.status) && current.replacement_id !== null) {
    if (chain.length > MAX_REPLACEMENT_DEPTH) {
      throw unresolvable(modelId, chain, `the replacement chain is longer than ${MAX_REPLACEMENT_DEPTH}`);
    }
    const next = models.get(current.replacement_id);
    if (!next) throw unresolvable(modelId, chain, `replacement '${current.replacement_id}' is not in the catalog`);
    if (chain.includes(next.model_id)) throw unresolvable(modelId, chain, `the chain loops back to '${next.model_id}'`);
    chain.push(next.model_id);
    current = next;
  }
  if (current.status === 'retired') {
    if (chain.length === 1) {
      throw new GatewayError('model_retired', `The model '${modelId}' is retired and has no replacement.`, {
        param: 'model',
      });
    }
    throw unresolvable(modelId, chain, `it ends at the retired model '${current.model_id}'`);
  }
  return { model: current, requested, chain };
}

function unresolvable(modelId: string, chain: string[], why: string): GatewayError {
  return new GatewayError(
    'deprecation_chain_unresolvable',
    `The model '${modelId}' is deprecated and its replacement cannot be resolved: ${why} (${chain.join(' → ')}).`,
    { param: 'model' },
  );
}

/**
 * Catalog-time check on the replacement graph itself, whatever the statuses: every replacement_id
 * names a known model, no chain loops, no chain is deeper than the limit, and a redirected model's
 * chain ends at a model that can serve. Returns a sentence per broken model id.
 */
export function findBrokenChains(models: ReadonlyMap<string, ModelRecord>): Map<string, string> {
  const broken = new Map<string, string>();
  for (const model of models.values()) {
    if (model.replacement_id === null) continue;
    const chain = [model.model_id];
    let current: ModelRecord = model;
    while (current.replacement_id !== null) {
      const next = models.get(current.replacement_id);
      if (!next) {
        broken.set(model.model_id, `replacement_id '${current.replacement_id}' is not a model in the catalog (${chain.join(' → ')})`);
        break;
      }
      if (chain.includes(next.model_id)) {
        broken.set(model.model_id, `replacement chain is a cycle: ${[...chain, next.model_id].join(' → ')}`);
        break;
      }
      chain.push(next.model_id);
      if (chain.length > MAX_REPLACEMENT_DEPTH + 1) {
        broken.set(model.model_id, `replacement chain is deeper than ${MAX_REPLACEMENT_DEPTH}: ${chain.join(' → ')}`);
        break;
      }
      current = next;
    }
    if (broken.has(model.model_id) || !REDIRECTED.has(model.status)) continue;
    try {
      resolveModel(models, model.model_id);
    } catch (err) {
      broken.set(model.model_id, (err as Error).message);
    }
  }
  return broken;
}
