/**
 * The proxy listener: the unified API under /v1, native passthrough under /<provider>/. Every
 * request gets an id (echoed as x-request-id), a runtime snapshot, one error renderer and one
 * line in the request metrics.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { answerClientErrors, createServer, guarded, listenerTimeouts } from '../util/http-server.ts';
import { GatewayError } from '../errors/catalog.ts';
import { statusClass } from '../metrics/registry.ts';
import { logAccess } from './access-log.ts';
import { getModel, listModels } from './models.ts';
import { passthrough } from './passthrough.ts';
import { setBodyLimits } from './body.ts';
import { parseRequestTarget } from './request-target.ts';
import { boundedMessage, openAIErrorBody, sendError, toGatewayError } from './respond.ts';
import type { Handler, RequestContext, Services } from './services.ts';
import { unifiedHandler } from './unified.ts';
import { audioTranscription } from './audio.ts';
import { countTokensHandler, messagesHandler } from './messages.ts';
import { responsesHandler } from './responses.ts';
import { realtimeUpgrade } from './realtime.ts';

const ROUTES: Record<string, { operation: string; handler: Handler }> = {
  'POST /v1/chat/completions': { operation: 'chat', handler: unifiedHandler('chat') },
  'POST /v1/embeddings': { operation: 'embeddings', handler: unifiedHandler('embeddings') },
  'POST /v1/images/generations': { operation: 'images', handler: unifiedHandler('images') },
  'POST /v1/audio/transcriptions': { operation: 'audio_transcription', handler: audioTranscription },
  // Legacy text completions, rerank (Cohere/Jina shape) and text to speech, where providers serve them.
  'POST /v1/completions': { operation: 'text_completion', handler: unifiedHandler('text_completion') },
  'POST /v1/rerank': { operation: 'rerank', handler: unifiedHandler('rerank') },
  'POST /v1/audio/speech': { operation: 'audio_speech', handler: unifiedHandler('audio_speech') },
  'GET /v1/models': { operation: 'models', handler: listModels },
  // Anthropic Messages API for every catalog model (messages.ts); a token count is its own operation.
  'POST /v1/messages': { operation: 'chat', handler: messagesHandler },
  'POST /v1/messages/count_tokens': { operation: 'count_tokens', handler: countTokensHandler },
  // OpenAI Responses API for every catalog model (responses.ts).
  'POST /v1/responses': { operation: 'chat', handler: responsesHandler },
};

const REQUEST_ID = /^[\w.:-]{1,128}$/;

export function createProxyServer(services: Services): Server {
  const limits = services.runtime.current.config.limits;
  const server = createServer(
    { keepAliveTimeout: 65_000, ...listenerTimeouts(limits) },
    // handle() catches its own failures; this is the last line should the catch itself fail.
    guarded(
      (req, res) => handle(services, req, res),
      (err, _req, res) => sendError(res, toGatewayError(err, services.log)),
    ),
  );
  answerClientErrors(server, (status, code, message) => openAIErrorBody(new GatewayError(code, message, { status })));
  // WebSocket upgrades: realtime sessions through passthrough (realtime.ts).
  server.on('upgrade', realtimeUpgrade(services));
  return server;
}

async function handle(services: Services, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = req.url ?? '/';
  const q = url.indexOf('?');
  const incomingId = req.headers['x-request-id'];
  const id = typeof incomingId === 'string' && REQUEST_ID.test(incomingId) ? incomingId : randomUUID();
  const path = q === -1 ? url : url.slice(0, q);
  const ctx: RequestContext = {
    id,
    runtime: services.runtime.current,
    services,
    startedAt: performance.now(),
    path,
    query: q === -1 ? '' : url.slice(q + 1),
    incoming: req.headers,
    // The server span (tracing on only), a child of the caller's traceparent.
    trace: services.tracing?.request(req.method ?? 'GET', path, req.headers, id),
    labels: { api: 'other', operation: 'none', provider: 'none', model: 'none' },
  };
  // 'close' fires for every response, finished or cut; a cut one counts as 499 (client closed).
  res.on('close', () => {
    const status = res.writableFinished ? res.statusCode : 499;
    countRequest(ctx, status);
    logAccess(ctx, req.method, status);
    ctx.trace?.end(status);
  });
  try {
    ({ path: ctx.path, query: ctx.query } = parseRequestTarget(req.url));
    setBodyLimits(req, ctx.runtime.config.limits);
    await dispatch(ctx, req, res);
  } catch (err) {
    const error = toGatewayError(err, services.log);
    ctx.trace?.failed(error);
    if (error.status >= 500) services.log.warn({ request_id: ctx.id, code: error.code, status: error.status }, boundedMessage(error.message));
    sendError(res, error, { 'x-request-id': ctx.id });
    // A body we refused to read is left unread: do not keep the connection.
    if (!req.complete) req.resume();
  } finally {
    // After the handler's last word: its charge (if any) is already in the balances.
    ctx.admission?.release();
  }
}

async function dispatch(ctx: RequestContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const route = ROUTES[`${req.method} ${ctx.path}`];
  if (route) {
    ctx.labels.api = 'unified';
    ctx.labels.operation = route.operation;
    ctx.trace?.route(ctx.path);
    return route.handler(ctx, req, res);
  }
  if (req.method === 'GET' && ctx.path.startsWith('/v1/models/')) {
    ctx.labels.api = 'unified';
    ctx.trace?.route('/v1/models/{model}');
    return getModel(ctx, req, res);
  }
  const slash = ctx.path.indexOf('/', 1);
  const providerName = ctx.path.slice(1, slash === -1 ? undefined : slash);
  const provider = ctx.runtime.catalog.provider(providerName);
  if (provider && slash !== -1) {
    ctx.labels.api = 'native';
    ctx.trace?.route(`/${provider.name}/{path}`);
    return passthrough(ctx, provider, ctx.path.slice(slash), req, res);
  }
  if (ctx.path.startsWith('/v1/') && Object.keys(ROUTES).some((r) => r.endsWith(` ${ctx.path}`))) {
    throw new GatewayError('method_not_allowed', `${req.method} is not allowed on ${ctx.path}.`);
  }
  throw new GatewayError('not_found', `No route for ${req.method} ${ctx.path}. The unified API lives under /v1, native APIs under /<provider>/.`);
}

function countRequest(ctx: RequestContext, status: number): void {
  const { api, operation, provider, model } = ctx.labels;
  ctx.services.metrics.requests.labels(api, operation, provider, model, statusClass(status)).inc();
}
