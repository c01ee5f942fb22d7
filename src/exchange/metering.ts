/**
 * The metering step: one charge per request that reached an upstream (the serving attempt, or the
 * final failure). Meter.settle books it and drops the admission's hold in the same step; `written`
 * resolves once the charge is in the ledger file, and the final bytes wait for it.
 */
import type { ExchangeOutcome, UsageRecord } from '../metering/record.ts';
import type { Usage } from '../metering/usage.ts';
import type { Target } from '../routing/target.ts';
import type { ExchangeRequest } from './exchange-request.ts';

export function meterExchange(
  x: ExchangeRequest,
  target: Target,
  attempts: number,
  status: number,
  outcome: ExchangeOutcome,
  usage: Usage | null,
  firstByteAt: number | null,
): { record: UsageRecord; written: Promise<void> } {
  return x.ctx.services.meter.settle({
    requestId: x.ctx.id,
    caller: x.caller,
    admission: x.admission,
    api: x.api,
    operation: x.meteredOperation ?? x.operation,
    stream: x.stream,
    requestedModel: x.requestedModel,
    target,
    // An abort is the client's 499 whatever the upstream said (the same on every route).
    status: outcome === 'aborted' ? 499 : status,
    outcome,
    usage,
    attempts,
    startedAt: x.ctx.startedAt,
    firstByteAt,
    endedAt: performance.now(),
  });
}
