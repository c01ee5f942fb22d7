/**
 * Which catalog model a Messages request names: the config's `anthropic_model_map` first (exact,
 * then the longest `prefix*` key), then a catalog model id, then an Anthropic upstream model name
 * (so `claude-sonnet-4-6` reaches the catalog's Claude Sonnet 4.6 without a map entry).
 */
import type { Catalog } from '../../catalog/catalog.ts';

export function messagesModelId(name: string, map: Record<string, string>, catalog: Catalog): string {
  const exact = map[name];
  if (exact !== undefined) return exact;
  let best: string | null = null;
  for (const key of Object.keys(map)) {
    if (key.endsWith('*') && name.startsWith(key.slice(0, -1)) && (best === null || key.length > best.length)) best = key;
  }
  if (best !== null) return map[best]!;
  if (catalog.models.has(name)) return name;
  return catalog.modelForUpstream('anthropic', name)?.model_id ?? name;
}
