/** The upstream request an API-pair adapter (Messages, Responses) builds for one target, as the exchange pipeline takes it. */
import type { Prepared } from '../exchange/exchange-request.ts';
import type { ProviderAdapter } from '../providers/contract.ts';
import type { Target } from '../routing/target.ts';

export function prepareWith(target: Target, adapter: ProviderAdapter, body: Record<string, unknown>): Prepared {
  const up = adapter.request('chat', body);
  return {
    adapter,
    context: up.context,
    outbound: { method: up.method, url: target.baseUrl + up.path, headers: { ...target.provider.default_headers, ...up.headers }, body: up.body },
  };
}
