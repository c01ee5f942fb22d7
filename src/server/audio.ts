/**
 * POST /v1/audio/transcriptions: the multipart upload is relayed without being held in memory
 * (see multipart-relay.ts), through the exchange pipeline like every operation. An upload streamed
 * through can be sent once; a model with fallback deployments has its upload spooled so it can be
 * sent again.
 */
import { join } from 'node:path';
import { GatewayError } from '../errors/catalog.ts';
import { runExchange } from '../exchange/attempt-loop.ts';
import { wholeBody } from '../exchange/body/whole.ts';
import { createAdapter } from '../providers/registry.ts';
import { planTargets } from '../routing/plan.ts';
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
  const upload = await readMultipart(req, {
    maxUploadBytes: limits.max_upload_bytes,
    spoolDir: join(runtime.config.ledger.dir, 'spool'),
    spoolFor: (modelId) => hasFallback(modelId),
  });
  try {
    const resolution = runtime.catalog.resolve(upload.model);
    const model = resolution.model;
    ctx.labels.model = model.model_id;
    if (!model.operations.includes('audio_transcription')) {
      throw new GatewayError('operation_not_supported', `The model '${model.model_id}' does not transcribe audio.`, { param: 'model' });
    }
    const admission = (ctx.admission = await services.admission.admit({
      caller,
      config: runtime.config,
      model,
      requestedModel: upload.model,
      operation: 'audio_transcription',
      targets: planTargets(runtime.routing, model, caller.orgId),
      inputBytes: Number(req.headers['content-length']) || 0,
      body: null,
    }));
    await runExchange(
      {
        ctx,
        caller,
        admission,
        api: 'unified',
        operation: 'audio_transcription',
        stream: false,
        requestedModel: upload.model,
        targets: admission.targets,
        strategy: runtime.config.routes[model.model_id]?.strategy ?? 'priority',
        promptChars: 0,
        headers: { 'x-request-id': ctx.id, ...modelHeaders(resolution) },
        replayable: upload.replayable,
        native: null,
        prepare(target) {
          const adapter = createAdapter(target);
          const up = adapter.request('audio_transcription', { model: upload.model });
          const headers = { ...target.provider.default_headers, 'content-type': upload.contentType, accept: 'application/json' };
          return { adapter, context: up.context, outbound: { method: 'POST', url: target.baseUrl + up.path, headers, body: upload.body(target.upstreamModel) as unknown as NodeJS.ReadableStream } };
        },
        // The upstream has answered for good, so the upload is spent: removed before the caller hears back.
        requestSpent: () => upload.cleanup(),
        handler: wholeBody,
      },
      res,
    );
  } finally {
    await upload.cleanup();
  }

  /** More than one deployment may serve the model: its upload must be replayable. */
  function hasFallback(modelId: string): boolean {
    try {
      const id = runtime.catalog.resolve(modelId).model.model_id;
      return (runtime.config.routes[id]?.deployments.length ?? 1) > 1;
    } catch {
      return false;
    }
  }
};
