/**
 * The management API on the ops listener. Routes register here by feature (credentials, wallets,
 * health, …); this file owns what they share: admin authentication (a Tollbooth key whose role is
 * owner or admin, plus X-Organization-ID naming the key's org), JSON bodies, and `{detail}` errors
 * with 400/401/403/404/500.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Caller } from '../../admission/caller-auth.ts';
import { GatewayError, isGatewayError } from '../../errors/catalog.ts';
import { parseJsonObject, readBody } from '../body.ts';
import type { Services } from '../services.ts';
import type { Runtime } from '../../runtime/runtime.ts';

export interface AdminContext {
  services: Services;
  runtime: Runtime;
  /** The authenticated admin: role owner or admin, org asserted by X-Organization-ID. */
  caller: Caller;
  params: Record<string, string>;
  query: URLSearchParams;
  /** The JSON body (an object), read on first call. */
  body(): Promise<Record<string, unknown>>;
}

export type AdminHandler = (ctx: AdminContext) => Promise<{ status?: number; body: unknown }>;

interface Route {
  method: string;
  segments: string[];
  handler: AdminHandler;
}

export class AdminRouter {
  readonly #routes: Route[] = [];

  /** `path` may hold `{name}` segments, e.g. /credentials/{id}/rotate. */
  add(method: string, path: string, handler: AdminHandler): this {
    this.#routes.push({ method, segments: path.split('/').filter(Boolean), handler });
    return this;
  }

  /** Handles the request if a route matches its path; returns false otherwise. */
  async handle(services: Services, req: IncomingMessage, res: ServerResponse, path: string, query: string): Promise<boolean> {
    const parts = path.split('/').filter(Boolean).map(decodeSegment);
    const matching = this.#routes.filter((r) => r.segments.length === parts.length && r.segments.every((s, i) => s.startsWith('{') || s === parts[i]));
    if (matching.length === 0) return false;
    try {
      const route = matching.find((r) => r.method === req.method);
      if (!route) throw new GatewayError('method_not_allowed', `${req.method} is not allowed on ${path}.`);
      const runtime = services.runtime.current;
      const caller = authenticateAdmin(runtime, req);
      const params: Record<string, string> = {};
      route.segments.forEach((s, i) => {
        if (s.startsWith('{')) params[s.slice(1, -1)] = parts[i]!;
      });
      let body: Record<string, unknown> | null = null;
      const result = await route.handler({
        services,
        runtime,
        caller,
        params,
        query: new URLSearchParams(query),
        body: async () => (body ??= parseJsonObject(await readBody(req, runtime.config.limits.max_body_bytes))),
      });
      const text = JSON.stringify(result.body);
      res.writeHead(result.status ?? 200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) }).end(text);
    } catch (err) {
      sendDetail(services, res, err);
    }
    return true;
  }
}

/** The listener has checked the target already (request-target.ts); a malformed escape is still a 400 here, never a throw that escapes. */
function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw new GatewayError('invalid_request_target', 'The request path holds a malformed percent-escape.');
  }
}

function authenticateAdmin(runtime: Runtime, req: IncomingMessage): Caller {
  if (typeof req.headers.authorization !== 'string') {
    throw new GatewayError('missing_api_key', 'Authorization: Bearer <admin key> is required.');
  }
  // A header left out is a malformed request (400); one naming another org is refused (403) below.
  if (typeof req.headers['x-organization-id'] !== 'string' || req.headers['x-organization-id'].trim() === '') {
    throw new GatewayError('invalid_request', 'The X-Organization-ID header is required on management endpoints: the id of the org the admin key belongs to.');
  }
  const caller = runtime.auth.authenticate({ authorization: req.headers.authorization, 'x-organization-id': req.headers['x-organization-id'] });
  if (caller.role === 'member') {
    throw new GatewayError('forbidden', 'This endpoint needs the owner or admin role.');
  }
  return caller;
}

/** Management errors are `{detail}`; statuses outside 400/401/403/404/405/408/409/413/500 are folded in. */
function sendDetail(services: Services, res: ServerResponse, err: unknown): void {
  let status = 500;
  let detail = 'internal error';
  // A body left unread (too large, stalled) is not waited for: the connection closes after the answer.
  const headers = isGatewayError(err) ? err.headers : {};
  if (isGatewayError(err)) {
    status = [400, 401, 403, 404, 405, 408, 409, 413].includes(err.status) ? err.status : err.status >= 500 ? 500 : 400;
    detail = err.message;
  } else {
    services.log.error({ err }, 'admin endpoint failed');
  }
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const text = JSON.stringify({ detail });
  res.writeHead(status, { ...headers, 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) }).end(text);
}
