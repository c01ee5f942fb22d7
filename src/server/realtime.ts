/**
 * Realtime over WebSocket through native passthrough: `GET /openai/v1/realtime?model=…` (OpenAI
 * Realtime) and `GET /gemini/ws/google.ai.generativelanguage.v1beta.GenerativeService.BidiGenerateContent`
 * (Gemini Live) upgraded and relayed to the provider with http-proxy-3 (undici does not proxy
 * WebSockets). Before the upgrade: the caller's key is checked (any header its SDK uses, Gemini's
 * `?key=`, or OpenAI's browser subprotocol `openai-insecure-api-key.<key>`) and stripped, the path
 * must be both in the provider's passthrough_paths and a realtime API Tollbooth can meter
 * (src/realtime/dialects.ts), the org is admitted (plan, rate, credits), the managed key is put on,
 * and Sec-WebSocket-Extensions is removed so no compression is negotiated and every frame can be
 * read. After it, src/realtime/session.ts relays and meters frame by frame.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { isDenial } from '../admission/denial.ts';
import type { Admission } from '../admission/gate.ts';
import { applyCredential } from '../credentials/backend-auth.ts';
import { forwardableHeaders } from '../credentials/outbound-headers.ts';
import { GatewayError } from '../errors/catalog.ts';
import { realtimeDialect, type RealtimeDialect } from '../realtime/dialects.ts';
import { RealtimeSession } from '../realtime/session.ts';
import type { Target } from '../routing/target.ts';
import type { OutboundRequest } from '../upstream/transport.ts';
import { passthroughPath } from './passthrough-path.ts';
import { passthroughUpstream } from './passthrough-request.ts';
import { parseRequestTarget } from './request-target.ts';
import { boundedMessage, openAIErrorBody, toGatewayError } from './respond.ts';
import type { RequestContext, Services } from './services.ts';

/** OpenAI's browser auth: the key rides in a subprotocol (the browser WebSocket cannot set headers). */
const KEY_PROTOCOL = 'openai-insecure-api-key.';

/** Never forwarded on an upgrade, besides what Tollbooth consumes: compression offers above all. */
const DROP = new Set(['host', 'cookie', 'sec-websocket-extensions', 'sec-websocket-protocol', 'content-length']);

interface Pending {
  ctx: RequestContext;
  prepared: Prepared;
  client: Socket;
  started: boolean;
}

interface Prepared {
  dialect: RealtimeDialect;
  target: Target;
  admission: Admission;
  caller: ReturnType<RequestContext['runtime']['auth']['authenticate']>;
  requestedModel: string | null;
  origin: string;
  url: string;
  headers: Record<string, string>;
}

type Proxy = import('http-proxy-3').ProxyServer;

/** The listener's 'upgrade' handler: every upgrade request is answered here, relayed or refused. */
export function realtimeUpgrade(services: Services): (req: IncomingMessage, socket: Duplex, head: Buffer) => void {
  let proxy: Promise<Proxy> | null = null;
  const pendingByReq = new WeakMap<IncomingMessage, Pending>();
  const pendingBySocket = new WeakMap<Duplex, Pending>();
  // http-proxy-3 loads with the first upgrade, not at start-up.
  const proxyFor = () =>
    (proxy ??= import('http-proxy-3').then(({ createProxyServer }) => {
      const p = createProxyServer({ ws: true, changeOrigin: true, xfwd: false });
      // Before http-proxy-3's own 'upgrade' handler (it writes the 101, then pipes): keep the
      // answer free of extensions, and remember which session this upstream socket is.
      p.on('proxyReqWs', (proxyReq, req) => {
        const pending = pendingByReq.get(req as IncomingMessage);
        if (!pending) return;
        proxyReq.on('upgrade', (proxyRes: IncomingMessage, proxySocket: Duplex) => {
          delete proxyRes.headers['sec-websocket-extensions'];
          pendingBySocket.set(proxySocket, pending);
        });
      });
      // Right after the 101 and the pipes: unpipe (no byte has flowed yet) and relay frame by frame.
      p.on('open', (proxySocket: Duplex) => {
        const pending = pendingBySocket.get(proxySocket);
        if (!pending) return proxySocket.destroy();
        pending.started = true;
        startSession(pending, proxySocket as Socket);
      });
      return p;
    }));

  return (req, socket, head) => {
    const ctx: RequestContext = {
      id: randomUUID(),
      runtime: services.runtime.current,
      services,
      startedAt: performance.now(),
      path: '/',
      query: '',
      labels: { api: 'native', operation: 'realtime', provider: 'none', model: 'none' },
    };
    socket.on('error', () => socket.destroy());
    prepare(ctx, req)
      .then(async (prepared) => {
        const pending: Pending = { ctx, prepared, client: socket as Socket, started: false };
        pendingByReq.set(req, pending);
        // No session (the provider refused the upgrade, or the connection failed): nothing was served.
        socket.once('close', () => {
          if (!pending.started) prepared.admission.release();
        });
        req.url = prepared.url;
        req.headers = prepared.headers;
        const p = await proxyFor();
        p.ws(req, socket, head, { target: prepared.origin }, (err) => {
          services.log.warn({ request_id: ctx.id, provider: prepared.target.provider.name, err: String(err) }, 'realtime: upstream connection failed');
          if (!socket.destroyed) refuse(socket, new GatewayError('upstream_unreachable', 'The provider could not be reached.'));
        });
      })
      .catch((err) => {
        const error = toGatewayError(err, services.log);
        refuse(socket, error, isDenial(err) ? JSON.stringify(err.envelope) : undefined);
      });
  };
}

async function prepare(ctx: RequestContext, req: IncomingMessage): Promise<Prepared> {
  const { runtime, services } = ctx;
  if (req.method !== 'GET' || (req.headers.upgrade ?? '').toLowerCase() !== 'websocket') {
    throw new GatewayError('invalid_request', 'Only WebSocket upgrades (GET, Upgrade: websocket) are accepted here.');
  }
  ({ path: ctx.path, query: ctx.query } = parseRequestTarget(req.url));
  const slash = ctx.path.indexOf('/', 1);
  const provider = slash === -1 ? undefined : runtime.catalog.provider(ctx.path.slice(1, slash));
  if (!provider) throw new GatewayError('not_found', `No realtime API at ${ctx.path}. Realtime sessions live under /<provider>/ (e.g. /openai/v1/realtime, /gemini/ws/…BidiGenerateContent).`);
  ctx.labels.provider = provider.name;

  const query = new URLSearchParams(ctx.query);
  const queryKey = provider.api === 'gemini' ? query.get('key') : null;
  query.delete('key');
  const { protocols, key: protocolKey } = splitProtocols(req.headers['sec-websocket-protocol']);
  const caller = runtime.auth.authenticate(req.headers, queryKey ?? protocolKey);

  const { credential, baseUrl, origin, basePath } = passthroughUpstream(runtime.credentials, provider, caller.orgId);
  const rest = passthroughPath(provider, basePath, ctx.path.slice(slash));
  const dialect = realtimeDialect(provider.api, decodeURIComponent(rest).slice(basePath.length));
  if (!dialect) {
    // A socket Tollbooth cannot read would be managed usage served unmetered.
    throw new GatewayError('passthrough_path_not_allowed', `'${rest}' is not a realtime API Tollbooth can meter for ${provider.display_name}.`);
  }

  const requestedModel = dialect.modelFromQuery(query);
  const target: Target = { provider, credential, baseUrl, model: null, upstreamModel: requestedModel ?? 'unknown', weight: 1 };
  target.model = requestedModel ? (runtime.catalog.modelForUpstream(provider.name, requestedModel) ?? null) : null;
  ctx.labels.model = target.model?.model_id ?? 'unknown';
  const admission = await admit(ctx, caller, target, requestedModel);

  const search = query.toString();
  const outbound: OutboundRequest = { method: 'GET', url: origin + rest + (search ? `?${search}` : ''), headers: { ...provider.default_headers, ...forwardableHeaders(req.headers, DROP) }, body: null };
  try {
    await applyCredential(target, outbound);
  } catch (err) {
    admission.release();
    throw err;
  }
  // After the strip (which takes every hop-by-hop header): the upgrade itself, and the caller's
  // subprotocols without the one that carried its key.
  outbound.headers.connection = 'Upgrade';
  outbound.headers.upgrade = 'websocket';
  if (protocols.length > 0) outbound.headers['sec-websocket-protocol'] = protocols.join(', ');
  return { dialect, target, admission, caller, requestedModel, origin, url: rest + (search ? `?${search}` : ''), headers: outbound.headers };
}

function admit(ctx: RequestContext, caller: Prepared['caller'], target: Target, requestedModel: string | null): Promise<Admission> {
  return ctx.services.admission.admit({
    caller,
    config: ctx.runtime.config,
    model: target.model,
    requestedModel,
    operation: 'chat',
    targets: [target],
    inputBytes: 0,
    body: null,
  });
}

/** Takes the two sockets from http-proxy-3's pipes (nothing has flowed: 'open' follows the pipe at once). */
function startSession({ ctx, prepared, client }: Pending, upstream: Socket): void {
  upstream.unpipe(client);
  client.unpipe(upstream);
  const { dialect, target, caller, admission } = prepared;
  let requestedModel = prepared.requestedModel;
  new RealtimeSession({
    ctx,
    caller,
    dialect,
    target,
    admission,
    requestedModel,
    client,
    upstream,
    maxMessageBytes: ctx.runtime.config.limits.max_body_bytes,
    admitNext: () => admit(ctx, caller, target, requestedModel),
    onModel(upstreamModel) {
      requestedModel = upstreamModel;
      target.upstreamModel = upstreamModel;
      target.model = ctx.runtime.catalog.modelForUpstream(target.provider.name, upstreamModel) ?? null;
      ctx.labels.model = target.model?.model_id ?? 'unknown';
    },
  }).start();
}

function splitProtocols(header: string | string[] | undefined): { protocols: string[]; key: string | null } {
  const all = (Array.isArray(header) ? header.join(',') : (header ?? '')).split(',').map((p) => p.trim()).filter(Boolean);
  const keyed = all.find((p) => p.startsWith(KEY_PROTOCOL));
  return { protocols: all.filter((p) => !p.startsWith(KEY_PROTOCOL)), key: keyed ? keyed.slice(KEY_PROTOCOL.length) : null };
}

/** An HTTP answer on a socket that was never upgraded, then the end of it. */
function refuse(socket: Duplex, error: GatewayError, body = openAIErrorBody(new GatewayError(error.code, boundedMessage(error.message), { status: error.status }))): void {
  if (!socket.writable) return void socket.destroy();
  const head = [`HTTP/1.1 ${error.status} ${STATUS_TEXT[error.status] ?? 'Error'}`, 'content-type: application/json', `content-length: ${Buffer.byteLength(body)}`, 'connection: close'];
  for (const [name, value] of Object.entries(error.headers ?? {})) head.push(`${name}: ${value}`);
  socket.end(`${head.join('\r\n')}\r\n\r\n${body}`);
}

const STATUS_TEXT: Record<number, string> = { 400: 'Bad Request', 401: 'Unauthorized', 402: 'Payment Required', 403: 'Forbidden', 404: 'Not Found', 429: 'Too Many Requests', 500: 'Internal Server Error', 502: 'Bad Gateway', 503: 'Service Unavailable' };
