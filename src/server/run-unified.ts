/**
 * What every route on the unified root does once it has read its body and resolved the model:
 * admit the request (plan, rate limits, credit hold) for the model's deployments, then run it
 * through the exchange pipeline with the translating body handler. Routes differ only in how each
 * deployment's request is prepared (and a few overrides: count_tokens streams nothing, say).
 */
import type { ServerResponse } from 'node:http';
import type { Caller } from '../admission/caller-auth.ts';
import type { ModelRecord, Operation } from '../catalog/types.ts';
import type { Resolution } from '../catalog/deprecation.ts';
import { runExchange } from '../exchange/attempt-loop.ts';
import { translatedBody } from '../exchange/body/translated.ts';
import { translatedStream } from '../exchange/body/translated-stream.ts';
import type { ExchangeRequest } from '../exchange/exchange-request.ts';
import { planTargets } from '../routing/plan.ts';
import type { Target } from '../routing/target.ts';
import { modelHeaders } from './deprecation-headers.ts';
import type { RequestContext } from './services.ts';

export interface UnifiedRun {
  caller: Caller;
  resolution: Resolution;
  /** What the caller named (kept in the ledger and the request-model metric label). */
  requestedModel: string;
  operation: Operation;
  stream: boolean;
  /** The request's bytes: admission's input bound and the prompt estimate when no usage comes back. */
  raw: Buffer;
  /** What admission reads the caller's output limit from. */
  admissionBody: unknown;
  prepare: ExchangeRequest['prepare'];
  /** Only these of the model's deployments (count_tokens: those that count natively). */
  only?: (target: Target) => boolean;
  /** Never billed (a token count): no credit hold, metered under its own operation name. */
  unbilled?: 'count_tokens';
  /** Overrides of the pipeline request (strategy, promptChars, handler…). */
  overrides?: Partial<ExchangeRequest>;
}

export async function runUnified(ctx: RequestContext, res: ServerResponse, run: UnifiedRun): Promise<void> {
  const { runtime } = ctx;
  const model: ModelRecord = run.resolution.model;
  const planned = planTargets(runtime.routing, model, run.caller.orgId);
  const admission = (ctx.admission = await ctx.services.admission.admit({
    caller: run.caller,
    config: runtime.config,
    model,
    requestedModel: run.requestedModel,
    operation: run.operation,
    targets: run.only ? planned.filter(run.only) : planned,
    inputBytes: run.raw.length,
    body: run.admissionBody,
    unbilled: run.unbilled !== undefined,
  }));
  await runExchange(
    {
      ctx,
      caller: run.caller,
      admission,
      api: 'unified',
      operation: run.operation,
      stream: run.stream,
      requestedModel: run.requestedModel,
      resolution: run.resolution,
      targets: run.only ? admission.targets.filter(run.only) : admission.targets,
      strategy: runtime.config.routes[model.model_id]?.strategy ?? 'priority',
      promptChars: run.raw.length,
      headers: { 'x-request-id': ctx.id, ...modelHeaders(run.resolution) },
      replayable: true,
      native: null,
      prepare: run.prepare,
      handler: run.stream ? translatedStream : translatedBody,
      ...(run.unbilled ? { meteredOperation: run.unbilled } : {}),
      ...run.overrides,
    },
    res,
  );
}
