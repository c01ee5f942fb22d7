/**
 * POST /v1/audio/transcriptions: the multipart upload is relayed without being held in memory
 * (see multipart-relay.ts). An upload can be sent once, so there is a single attempt.
 */
import { join } from 'node:path';
import { applyCredential } from '../credentials/backend-auth.ts';
import { GatewayError } from '../errors/catalog.ts';
import type { ExchangeOutcome } from '../metering/record.ts';
import type { Usage } from '../metering/usage.ts';
import { createAdapter } from '../providers/registry.ts';
import { badSuccess, errorInSuccess } from '../providers/upstream-error.ts';
import { planTargets } from '../routing/plan.ts';
import { transportError, type OutboundRequest } from '../upstream/transport.ts';
import { abortOnClientClose, sendAfter } from './client-stream.ts';
import { modelHeaders } from './deprecation-headers.ts';
import type { Handler } from './services.ts';

export const audioTranscription: Handler = async (ctx, req, res) => {
  const { runtime, services } = ctx;
  const caller = runtime.auth.authenticate(req.headers);
  if (!String(req.headers['content-type'] ?? '').startsWith('multipart/form-data')) {
    throw new GatewayError('unsupported_media_type', 'Audio transcription takes a multipart/form-data upload.');
  }
  const limits = runtime.config.limits;
  if (Number(req.headers['content-length']) > limits.max_upload_bytes) {
    throw new GatewayError('body_too_large', `The upload is larger than the limit of ${limits.max_upload_bytes} bytes.`, {
      headers: { connection: 'close' },
    });
  }
  // The multipart parser (busboy) is loaded by the first upload, not at start-up.
  const { readMultipart } = await import('./multipart-relay.ts');
  const upload = await readMultipart(req, { maxUploadBytes: limits.max_upload_bytes, spoolDir: join(runtime.config.ledger.dir, 'spool') });
  try {
    const resolution = runtime.catalog.resolve(upload.model);
    const model = resolution.model;
    ctx.labels.model = model.model_id;
    if (!model.operations.includes('audio_transcription')) {
      throw new GatewayError('operation_not_supported', `The model '${model.model_id}' does not transcribe audio.`, { param: 'model' });
    }
    ctx.admission = await services.admission.admit({
      caller,
      config: runtime.config,
      model,
      requestedModel: upload.model,
      operation: 'audio_transcription',
      targets: planTargets(runtime.routing, model, caller.orgId),
      inputBytes: Number(req.headers['content-length']) || 0,
      body: null,
    });
    const target = ctx.admission.targets[0]!;
    ctx.labels.provider = target.provider.name;
    const adapter = createAdapter(target);
    const up = adapter.request('audio_transcription', { model: upload.model });
    const outbound: OutboundRequest = {
      method: 'POST',
      url: target.baseUrl + up.path,
      headers: { ...target.provider.default_headers, 'content-type': upload.contentType, accept: 'application/json' },
      body: upload.body(target.upstreamModel) as unknown as NodeJS.ReadableStream,
    };
    const abort = abortOnClientClose(res);
    const settle = (status: number, outcome: ExchangeOutcome, usage: Usage | null, firstByteAt: number | null) =>
      services.meter.settle({
        requestId: ctx.id,
        caller,
        admission: ctx.admission,
        api: 'unified',
        operation: 'audio_transcription',
        stream: false,
        requestedModel: upload.model,
        target,
        status,
        outcome,
        usage,
        attempts: 1,
        startedAt: ctx.startedAt,
        firstByteAt,
        endedAt: performance.now(),
      });

    let response;
    try {
      await applyCredential(target, outbound);
      response = await services.upstream.send(outbound, abort.signal, {
        firstByteMs: runtime.config.routing.first_byte_timeout_ms,
        idleMs: runtime.config.routing.stream_idle_timeout_ms,
      });
    } catch (err) {
      const error = transportError(err, target.baseUrl);
      settle(error.status, abort.signal.aborted ? 'aborted' : 'upstream_error', null, null);
      throw error;
    }
    const firstByteAt = performance.now();
    let raw: Buffer;
    try {
      raw = await response.body.bytes(limits.max_upstream_body_bytes, true);
    } catch (err) {
      settle(502, abort.signal.aborted ? 'aborted' : 'upstream_error', null, firstByteAt);
      throw transportError(err, target.baseUrl);
    }
    // The upstream has answered, so the upload is spent: remove it before the caller hears back.
    await upload.cleanup();
    if (response.statusCode >= 400) {
      settle(response.statusCode, 'upstream_error', null, firstByteAt);
      throw adapter.error(response.statusCode, response.headers, raw);
    }
    const contentType = String(response.headers['content-type'] ?? 'application/json');
    const inBody = contentType.includes('json') ? errorInSuccess(raw) : null;
    if (inBody) {
      // A 200 that is an error object: the upstream failed, and nothing was processed to charge.
      settle(502, 'upstream_error', null, firstByteAt);
      throw badSuccess(target, inBody);
    }
    // response_format text/srt/vtt answers in plain text: passed on as is, with no usage to read.
    const usage = contentType.includes('json') ? adapter.response('audio_transcription', raw).usage : null;
    const { written } = settle(200, 'ok', usage, firstByteAt);
    await sendAfter(res, 200, raw, {
      'content-type': contentType,
      'x-request-id': ctx.id,
      'x-tollbooth-provider': target.provider.name,
      'x-tollbooth-attempts': '1',
      ...modelHeaders(resolution),
    }, written);
  } finally {
    await upload.cleanup();
  }
};
