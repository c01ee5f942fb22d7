/**
 * The access log: one JSON line per proxied request, written when its response closes. It names
 * the request (the same id the caller got in `x-request-id`), where it went and how it ended —
 * never headers, query strings or bodies, which can carry keys and prompts.
 */
import type { RequestContext } from './services.ts';

const MAX_PATH = 200;

export function logAccess(ctx: RequestContext, method: string | undefined, status: number): void {
  const log = ctx.services.accessLog;
  // Level-gated before the object is built: at `warn` and above an access line costs nothing.
  if (!log.isLevelEnabled('info')) return;
  log.info(
    {
      request_id: ctx.id,
      method,
      path: ctx.path.length > MAX_PATH ? `${ctx.path.slice(0, MAX_PATH)}…` : ctx.path,
      route: ctx.labels.api,
      operation: ctx.labels.operation,
      provider: ctx.labels.provider,
      model: ctx.labels.model,
      status,
      duration_ms: Math.round((performance.now() - ctx.startedAt) * 1000) / 1000,
    },
    'request',
  );
}
