/**
 * Native passthrough: /<provider>/<path> goes to the provider's own API with the body untouched;
 * only the credential is swapped, and the response is tapped for usage on its way back.
 */
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import type { ProviderRecord } from '../catalog/types.ts';
import { applyCredential } from '../credentials/backend-auth.ts';
import { forwardableHeaders } from '../credentials/outbound-headers.ts';
import { GatewayError } from '../errors/catalog.ts';
import type { ExchangeOutcome } from '../metering/record.ts';
import { billedUsage, type Usage } from '../metering/usage.ts';
import { setTapWindow, SseBacklog } from '../providers/body-tap.ts';
import { createAdapter } from '../providers/registry.ts';
import { baseUrlFor, type Target } from '../routing/target.ts';
import { transportError, type OutboundRequest } from '../upstream/transport.ts';
import { redactSecrets } from '../util/redact.ts';
import { readBody } from './body.ts';
import { abortOnClientClose, doneEventAt, StreamWriter } from './client-stream.ts';
import { passthroughPath } from './passthrough-path.ts';
import { openAIErrorBody, sendJson } from './respond.ts';
import type { RequestContext } from './services.ts';

/** Never forwarded, besides what Tollbooth consumes (outbound-headers.ts): what undici sets itself, cookies. */
const DROP_REQUEST_HEADERS = new Set<string>([
  'host',
  'content-length',
  'cookie',
  // Identity encoding upstream, so the usage tap can read the body; loopback gains nothing from gzip.
  'accept-encoding',
]);
const DROP_RESPONSE_HEADERS = new Set(['connection', 'keep-alive', 'transfer-encoding', 'set-cookie', 'alt-svc']);
/** The most of a stream's tail (from `data: [DONE]`) held for its charge. */
const HELD_MAX_BYTES = 64 * 1024;

export async function passthrough(ctx: RequestContext, provider: ProviderRecord, rest: string, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const { runtime, services } = ctx;
  ctx.labels.provider = provider.name;
  const query = new URLSearchParams(ctx.query);
  // Gemini SDKs may send the key as ?key=; it is accepted as the caller's key and never forwarded.
  const queryKey = provider.api === 'gemini' ? query.get('key') : null;
  query.delete('key');
  const caller = runtime.auth.authenticate(req.headers, queryKey);

  const credential = runtime.credentials.defaultFor(provider.name, caller.orgId);
  if (!credential || credential.unavailable !== null) {
    throw new GatewayError('credential_unavailable', `No usable credential for provider '${provider.name}' (${credential?.unavailable ?? 'none configured'}).`);
  }
  const base = baseUrlFor(provider, credential);
  if ('missing' in base) throw new GatewayError('credential_unavailable', `Provider '${provider.name}': ${base.missing}.`);
  // From here on, `rest` is the path that matched the allow-list (passthrough-path.ts).
  rest = passthroughPath(provider, parsedBase(base.url).path, rest);

  const multipart = (req.headers['content-type'] ?? '').startsWith('multipart/');
  const hasBody = req.method !== 'GET' && req.method !== 'HEAD';
  const limits = runtime.config.limits;
  // JSON bodies are read (bounded) to learn the model for metering; uploads stream straight through.
  const raw = hasBody && !multipart ? await readBody(req, limits.max_body_bytes) : null;
  const target: Target = { provider, credential, baseUrl: base.url, model: null, upstreamModel: '', weight: 1 };
  const adapter = createAdapter(target);
  const json = raw ? safeJson(raw) : null;
  const info = adapter.describeNative(rest, json);
  target.upstreamModel = info.upstreamModel ?? 'unknown';
  target.model = info.upstreamModel ? (runtime.catalog.modelForUpstream(provider.name, info.upstreamModel) ?? null) : null;
  ctx.labels.operation = info.operation;
  ctx.labels.model = target.model?.model_id ?? 'unknown';

  ctx.admission = await services.admission.admit({
    caller,
    config: runtime.config,
    model: target.model,
    requestedModel: info.upstreamModel,
    operation: info.operation,
    targets: [target],
    inputBytes: raw?.length ?? (Number(req.headers['content-length']) || 0),
    body: json,
  });

  const search = query.toString();
  const outbound: OutboundRequest = {
    method: req.method as OutboundRequest['method'],
    url: originOf(base.url) + rest + (search ? `?${search}` : ''),
    headers: forwardedHeaders(req.headers, provider),
    body: raw ?? (hasBody ? req : null),
  };
  const abort = abortOnClientClose(res);
  const settle = (status: number, outcome: ExchangeOutcome, usage: Usage | null, firstByteAt: number | null) =>
    services.meter.settle({
      requestId: ctx.id,
      caller,
      admission: ctx.admission,
      api: 'native',
      operation: info.operation,
      stream: info.stream,
      requestedModel: info.upstreamModel,
      target,
      status,
      outcome,
      usage,
      attempts: 1,
      startedAt: ctx.startedAt,
      firstByteAt,
      endedAt: performance.now(),
    });

  const sentAt = performance.now();
  // Native calls feed the same health windows and breakers as unified ones.
  const observe = (status: number | null, firstByteAt: number | null, streamFailed = false) =>
    services.health.observe(target, { status, latencyMs: performance.now() - sentAt, ttfbMs: firstByteAt === null ? null : firstByteAt - sentAt, streamFailed });

  let response;
  try {
    await applyCredential(target, outbound);
    services.metrics.overhead.labels('native').observe((performance.now() - ctx.startedAt) / 1000);
    // The routing defaults bound a hung upstream (no head) and a stalled body (idle between chunks).
    response = await services.upstream.send(outbound, abort.signal, {
      firstByteMs: runtime.config.routing.first_byte_timeout_ms,
      idleMs: runtime.config.routing.stream_idle_timeout_ms,
    });
  } catch (err) {
    const error = transportError(err, originOf(base.url));
    if (!abort.signal.aborted) observe(null, null);
    settle(abort.signal.aborted ? 499 : error.status, abort.signal.aborted ? 'aborted' : 'upstream_error', null, null);
    throw error;
  }
  const firstByteAt = performance.now();
  const status = response.statusCode;

  if (status >= 400) {
    // Bounded: an error body past the limit is not relayed (a 502 instead).
    let raw: Buffer;
    try {
      raw = await response.body.bytes(limits.max_upstream_body_bytes, true);
    } catch (err) {
      observe(status, firstByteAt);
      settle(status, 'upstream_error', null, firstByteAt);
      throw transportError(err, originOf(base.url));
    }
    const error = adapter.error(status, response.headers, raw);
    observe(status, firstByteAt);
    settle(status, 'upstream_error', null, firstByteAt);
    if (error.code === 'upstream_auth_failed') {
      // The gateway's credential was refused (401/403, Gemini's API_KEY_INVALID…): the provider's
      // text may quote part of it, and the caller's own key was fine.
      sendJson(res, error.status, openAIErrorBody(error), { 'x-request-id': ctx.id });
      return;
    }
    // Native callers get the provider's own error body, scrubbed of the managed key should it echo it.
    const secret = credential.secret?.reveal();
    const text = raw.toString('utf8');
    const body = secret && text.includes(secret) ? Buffer.from(redactSecrets(text, [secret])) : raw;
    const headers = responseHeaders(response.headers, ctx.id);
    delete headers['content-length'];
    res.writeHead(status, { ...headers, 'content-length': String(body.length) }).end(body);
    return;
  }

  res.writeHead(status, responseHeaders(response.headers, ctx.id));
  const contentType = String(response.headers['content-type'] ?? '');
  // The body streams through unbuffered; the tap keeps at most a bounded window of it.
  setTapWindow(limits.max_upstream_body_bytes);
  const tap = adapter.tap(info, contentType);
  // An SSE tap's parser holds an event until it ends: past the window the tap stops reading (the
  // bytes still go through), and the usage is estimated.
  const backlog = contentType.includes('text/event-stream') ? new SseBacklog(limits.max_upstream_body_bytes) : null;
  let tapping = true;
  const writer = new StreamWriter(res);
  // The answer's last byte waits for its charge to be in the ledger file. With a content-length,
  // the last byte of the body is that byte, so one byte is always kept back. Otherwise (chunked)
  // it is the end of the response, and in an OpenAI-style stream the `data: [DONE]` where the SDKs
  // stop reading: from there on, everything is held.
  const sized = response.headers['content-length'] !== undefined;
  let held: Uint8Array | undefined;
  let clientLeft = false;
  let cut = false;
  try {
    const end = await response.body.forEachChunk((chunk) => {
      if (tapping && backlog !== null) tapping = backlog.push(chunk);
      if (tapping) tap.push(chunk);
      if (held !== undefined && !sized) {
        // Bytes after [DONE] are relayed unchanged too; past a bound they go on at once, and only
        // the end of the response waits.
        if (held.length + chunk.length <= HELD_MAX_BYTES) {
          held = Buffer.concat([held, chunk]);
          return true;
        }
        writer.write(held);
        held = new Uint8Array(0);
        return writer.write(chunk);
      }
      if (!sized) {
        const done = doneEventAt(chunk);
        if (done === -1) return writer.write(chunk);
        held = chunk.subarray(done);
        return done === 0 ? true : writer.write(chunk.subarray(0, done));
      }
      if (chunk.length === 0) return true;
      if (held) writer.write(held);
      held = chunk.subarray(chunk.length - 1);
      return chunk.length === 1 ? true : writer.write(chunk.subarray(0, chunk.length - 1));
    });
    clientLeft = end === 'stopped';
  } catch {
    clientLeft = abort.signal.aborted;
    cut = !clientLeft;
  }
  if (clientLeft || cut) {
    response.body.destroy();
    // What arrived before the cut goes out; then, never letting a cut body look like a clean end,
    // the connection is dropped instead of the response ended.
    writer.flush();
    res.destroy();
  }
  const tapped = tap.finish();
  const outcome: ExchangeOutcome =
    clientLeft ? 'aborted' : cut || tapped.outcome === 'truncated' ? 'truncated' : tapped.outcome === 'error' ? 'stream_error' : 'ok';
  // The same money rule as the unified API (usage.ts billedUsage); the bytes went through unchanged.
  const usage = billedUsage(tapped.usage, outcome === 'ok', raw?.length ?? 0, tapped.generatedChars);
  if (!clientLeft) observe(status, firstByteAt, outcome === 'truncated' || outcome === 'stream_error');
  const { written } = settle(status, outcome, usage, firstByteAt);
  if (clientLeft || cut) return;
  await written;
  writer.end(held);
}

function forwardedHeaders(incoming: IncomingHttpHeaders, provider: ProviderRecord): Record<string, string> {
  return { ...provider.default_headers, ...forwardableHeaders(incoming, DROP_REQUEST_HEADERS) };
}

function responseHeaders(upstream: IncomingHttpHeaders, requestId: string): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(upstream)) {
    if (value !== undefined && !DROP_RESPONSE_HEADERS.has(name)) out[name] = value;
  }
  out['x-request-id'] = requestId;
  return out;
}

function originOf(url: string): string {
  return parsedBase(url).origin;
}

/** Base URLs come from the catalog and credentials: a handful, parsed once each. */
const BASES = new Map<string, { origin: string; path: string }>();

function parsedBase(url: string): { origin: string; path: string } {
  let parsed = BASES.get(url);
  if (!parsed) {
    const u = new URL(url);
    parsed = { origin: u.origin, path: u.pathname.replace(/\/$/, '') };
    if (BASES.size >= 256) BASES.clear();
    BASES.set(url, parsed);
  }
  return parsed;
}

function safeJson(raw: Buffer): unknown {
  try {
    return JSON.parse(raw.toString('utf8'));
  } catch {
    return null;
  }
}
