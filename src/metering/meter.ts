/**
 * Settles one exchange: usage → credits (exactly; see credits.ts) → one usage record → metrics.
 * Called once per request that reached an upstream, whatever its end.
 */
import type { Caller } from '../admission/caller-auth.ts';
import type { Admission } from '../admission/gate.ts';
import { genaiLabels, type Metrics } from '../metrics/registry.ts';
import type { Target } from '../routing/target.ts';
import type { Logger } from '../util/log.ts';
import { formatCredits, PICO_PER_CREDIT } from './credits.ts';
import { charge } from './pricing/bill.ts';
import type { ExchangeOutcome, MeteredOperation, UsageRecord, UsageRecorder } from './record.ts';
import type { Usage } from './usage.ts';

export interface Exchange {
  requestId: string;
  caller: Caller;
  /** The request's admission: settled here, right after its charge reaches the balances. */
  admission?: Admission;
  api: 'unified' | 'native';
  operation: MeteredOperation;
  stream: boolean;
  requestedModel: string | null;
  target: Target;
  status: number;
  outcome: ExchangeOutcome;
  usage: Usage | null;
  attempts: number;
  /** performance.now() marks. */
  startedAt: number;
  firstByteAt: number | null;
  endedAt: number;
}

export class Meter {
  readonly #recorder: UsageRecorder;
  readonly #metrics: Metrics;
  readonly #log: Logger;
  readonly #unpricedLogged = new Set<string>();

  constructor(recorder: UsageRecorder, metrics: Metrics, log: Logger) {
    this.#recorder = recorder;
    this.#metrics = metrics;
    this.#log = log;
  }

  /**
   * Charges the exchange. `written` resolves once the charge is in the ledger file: a handler holds
   * its answer's final bytes until then (DESIGN: a charge's final byte reaches the client only after
   * the charge is in the ledger file).
   */
  settle(x: Exchange): { record: UsageRecord; written: Promise<void> } {
    const { target, usage } = x;
    // A run happened when the provider processed tokens, whatever the status (an abort after tokens
    // flowed included); handlers pass null usage for a failure before any token (usage.ts billedUsage).
    const served = usage !== null;
    const modelLabel = target.model?.model_id ?? 'unknown';
    // The price in force when the request started applies (performance marks → wall clock).
    const at = Date.now() - (performance.now() - x.startedAt);
    const result = charge({ usage, model: target.model, billing: target.credential.billing, operation: x.operation, served, at });
    const record: UsageRecord = {
      ts: new Date().toISOString(),
      request_id: x.requestId,
      org: x.caller.orgId,
      key_id: x.caller.keyId,
      api: x.api,
      operation: x.operation,
      stream: x.stream,
      requested_model: x.requestedModel,
      model: target.model?.model_id ?? null,
      provider: target.provider.name,
      upstream_model: target.upstreamModel,
      credential: target.credential.id,
      billing: target.credential.billing,
      status: x.status,
      outcome: x.outcome,
      prompt_tokens: usage?.prompt_tokens ?? 0,
      completion_tokens: usage?.completion_tokens ?? 0,
      cached_tokens: usage?.cached_tokens ?? 0,
      reasoning_tokens: usage?.reasoning_tokens ?? 0,
      usage_source: usage?.source ?? 'none',
      credits: formatCredits(result.pico),
      unpriced: result.unpriced,
      ...(result.bill ? { bill: result.bill } : {}),
      attempts: x.attempts,
      duration_ms: round3(x.endedAt - x.startedAt),
      ttfb_ms: x.firstByteAt === null ? null : round3(x.firstByteAt - x.startedAt),
    };
    // The hold is dropped by the same step that books the charge: never a moment with neither.
    const written = this.#recorder.record(record, result.pico, x.admission?.settlement(record));

    const m = this.#metrics;
    const genai = genaiLabels(x, target);
    // OTel error.type: empty when the operation succeeded.
    m.operationDuration.labels(...genai, x.outcome === 'ok' ? '' : x.outcome).observe((x.endedAt - x.startedAt) / 1000);
    if (usage) {
      m.tokenUsage.labels(...genai, 'input').observe(usage.prompt_tokens);
      m.tokenUsage.labels(...genai, 'output').observe(usage.completion_tokens);
      if (usage.cached_tokens > 0) m.tokenUsage.labels(...genai, 'cached').observe(usage.cached_tokens);
      if (usage.reasoning_tokens > 0) m.tokenUsage.labels(...genai, 'reasoning').observe(usage.reasoning_tokens);
      if (usage.source === 'estimated') m.estimatedUsage.labels(target.provider.name, modelLabel).inc();
    }
    if (result.pico > 0n) {
      m.credits.labels(x.caller.orgId, target.provider.name, modelLabel).inc(Number(result.pico) / Number(PICO_PER_CREDIT));
      for (const [line, credits] of Object.entries(result.bill?.credits ?? {})) m.creditsByClass.labels(x.caller.orgId, line).inc(Number(credits));
    }
    if (result.unpriced) {
      m.unpriced.labels(target.provider.name, modelLabel).inc();
      if (!this.#unpricedLogged.has(modelLabel)) {
        this.#unpricedLogged.add(modelLabel);
        this.#log.warn({ provider: target.provider.name, model: modelLabel }, 'model (or unit) has no catalog price: metered at 0 credits, the run credit still charged');
      }
    }
    return { record, written };
  }
}

function round3(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}
