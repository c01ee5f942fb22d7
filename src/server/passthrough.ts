/**
 * Native passthrough: /<provider>/<path> goes to the provider's own API with the body untouched;
 * only the credential is swapped, and the response is tapped for usage on its way back (the
 * exchange pipeline with the identity translator and the tapping body handler).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ProviderRecord } from '../catalog/types.ts';
import type { MeteredOperation } from '../metering/record.ts';
import { GatewayError } from '../errors/catalog.ts';
import { runExchange } from '../exchange/attempt-loop.ts';
import { passthroughBody } from '../exchange/body/passthrough.ts';
import type { NativeRequestInfo } from '../providers/contract.ts';
import { createAdapter } from '../providers/registry.ts';
import { realtimeDialect } from '../realtime/dialects.ts';
import type { Target } from '../routing/target.ts';
import type { OutboundRequest } from '../upstream/transport.ts';
import { readBody } from './body.ts';
import { passthroughPath } from './passthrough-path.ts';
import { forwardedHeaders, passthroughUpstream, safeJson } from './passthrough-request.ts';
import type { RequestContext } from './services.ts';

export async function passthrough(ctx: RequestContext, provider: ProviderRecord, rest: string, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const { runtime, services } = ctx;
  ctx.labels.provider = provider.name;
  const query = new URLSearchParams(ctx.query);
  // Gemini SDKs may send the key as ?key=; it is accepted as the caller's key and never forwarded.
  const queryKey = provider.api === 'gemini' ? query.get('key') : null;
  query.delete('key');
  const caller = runtime.auth.authenticate(req.headers, queryKey);

  const { credential, baseUrl, origin, basePath } = passthroughUpstream(runtime.credentials, provider, caller.orgId);
  // From here on, `rest` is the path that matched the allow-list (passthrough-path.ts).
  rest = passthroughPath(provider, basePath, rest);
  // A realtime socket's path is listed for upgrades (realtime.ts); plain HTTP on it is a mistake.
  if (realtimeDialect(provider.api, decodeURIComponent(rest).slice(basePath.length))) {
    throw new GatewayError('invalid_request', `'${rest}' is a WebSocket API: connect with an upgrade (GET, Upgrade: websocket).`);
  }

  const multipart = (req.headers['content-type'] ?? '').startsWith('multipart/');
  const hasBody = req.method !== 'GET' && req.method !== 'HEAD';
  // JSON bodies are read (bounded) to learn the model for metering; uploads stream straight through.
  const raw = hasBody && !multipart ? await readBody(req, runtime.config.limits.max_body_bytes) : null;
  const target: Target = { provider, credential, baseUrl, model: null, upstreamModel: '', weight: 1 };
  const adapter = createAdapter(target);
  const json = raw ? safeJson(raw) : null;
  const info = adapter.describeNative(rest, json);
  target.upstreamModel = info.upstreamModel ?? 'unknown';
  target.model = info.upstreamModel ? (runtime.catalog.modelForUpstream(provider.name, info.upstreamModel) ?? null) : null;
  const metered = meteredOperation(info, req.method);
  ctx.labels.operation = metered ?? info.operation;
  ctx.labels.model = target.model?.model_id ?? 'unknown';

  const admission = (ctx.admission = await services.admission.admit({
    caller,
    config: runtime.config,
    model: target.model,
    requestedModel: info.upstreamModel,
    operation: info.operation,
    targets: [target],
    inputBytes: raw?.length ?? (Number(req.headers['content-length']) || 0),
    body: json,
    // The provider bills nothing for it (a model listing, a token count): rate-limited, no credit held.
    unbilled: info.unbilled === true,
  }));

  const search = query.toString();
  const outbound: OutboundRequest = {
    method: req.method as OutboundRequest['method'],
    url: origin + rest + (search ? `?${search}` : ''),
    headers: forwardedHeaders(req.headers, provider),
    body: raw ?? (hasBody ? req : null),
  };
  // One deployment, the one the caller named (the provider, with this org's credential): the same
  // health window, limits, deadline and money rules as the unified API; breakers fed, not consulted.
  await runExchange(
    {
      ctx,
      caller,
      admission,
      api: 'native',
      operation: info.operation,
      ...(metered ? { meteredOperation: metered } : {}),
      stream: info.stream,
      requestedModel: info.upstreamModel,
      targets: admission.targets,
      strategy: 'priority',
      pinned: true,
      promptChars: raw?.length ?? 0,
      headers: { 'x-request-id': ctx.id },
      replayable: raw !== null || !hasBody,
      native: info,
      prepare: () => ({ adapter, outbound, context: null }),
      handler: passthroughBody,
    },
    res,
  );
}

/**
 * What the ledger and metrics call a passthrough call, when not its catalog operation: what an
 * adapter marks unbilled is a GET of the provider's model list or one model (the only GETs the
 * catalog's passthrough_paths forward), recorded as `models` like the unified GET /v1/models, or a
 * POST that counts tokens (Anthropic's count_tokens, Gemini's countTokens, Cohere's tokenize),
 * recorded as `count_tokens` like the unified one.
 */
function meteredOperation(info: NativeRequestInfo, method: string | undefined): MeteredOperation | undefined {
  if (!info.unbilled) return undefined;
  return method === 'GET' ? 'models' : 'count_tokens';
}
