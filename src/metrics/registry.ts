/**
 * Every metric name in one place. GenAI metrics follow the OpenTelemetry GenAI semantic
 * conventions (dots → underscores, unit suffix per Prometheus rules); our own carry the
 * `tollbooth_` prefix. Label values come only from config and catalog (provider, catalog model id,
 * operation, status class, credential id, org id) — never from caller-supplied strings.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { DeploymentHealth } from '../routing/routing-health.ts';

// OTel's advised buckets for gen_ai.client.operation.duration and gen_ai.client.token.usage.
const DURATION_BUCKETS = [0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92];
const TOKEN_BUCKETS = [1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864];
const OVERHEAD_BUCKETS = [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1];

/**
 * The GenAI conventions' attributes as labels: the model the caller named (a catalog id; on the
 * native API the catalog id of the upstream model it named) and the model that served (the
 * replacement of a deprecated id, the fallback's model). Built by genaiLabels only, so every GenAI
 * metric carries them in the same order.
 */
const GENAI = ['gen_ai_operation_name', 'gen_ai_provider_name', 'gen_ai_request_model', 'gen_ai_response_model'] as const;

/**
 * Label values for the GenAI metrics, in GENAI's order. The unified API's requested model has been
 * resolved in the catalog (an unknown id is a 404 before any metric); a native request names the
 * provider's own model name, which is no label value: its catalog id is both.
 */
export function genaiLabels(
  x: { operation: string; api: string; requestedModel: string | null },
  target: { provider: { name: string }; model: { model_id: string } | null },
): [string, string, string, string] {
  const served = target.model?.model_id ?? 'unknown';
  const requested = x.api === 'native' ? served : (x.requestedModel ?? served);
  return [x.operation, target.provider.name, requested, served];
}

const BREAKER_STATE = { closed: 0, half_open: 1, open: 2 } as const;
/** Every move a breaker can make (routing/breaker.ts): each is exported at 0 once its deployment is seen. */
const BREAKER_MOVES = [
  ['closed', 'open'],
  ['open', 'half_open'],
  ['half_open', 'closed'],
  ['half_open', 'open'],
] as const;
/** Denial codes and the layer each can come from (admission/gate.ts); state_unavailable only with state: redis. */
const DENIALS = [
  ['credits_exhausted', 'org'],
  ['model_not_in_plan', 'org'],
  ['provider_not_in_plan', 'org'],
  ['rpm_exceeded', 'org'],
  ['rpm_exceeded', 'key'],
  ['tpm_exceeded', 'org'],
  ['tpm_exceeded', 'key'],
] as const;
const ROTATION_RESULTS = ['rotated', 'rotated_unverified', 'rejected', 'unverified', 'unreadable'] as const;
const VERIFICATION_RESULTS = ['valid', 'invalid', 'unreachable', 'unsupported'] as const;
const STATE_STORE_OPERATIONS = ['admit', 'settle', 'release', 'grant', 'balance'] as const;

export function createMetrics() {
  const registry = new Registry();
  // prom-client's standard names (process_*, nodejs_*), as stock Node.js dashboards expect them,
  // less its three gauges named like counters (nodejs_active_{handles,requests,resources}_total,
  // which `promtool check metrics` flags): the same values are nodejs_active_handles & co.
  collectDefaultMetrics({ register: registry });
  for (const name of ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total']) registry.removeSingleMetric(name);
  /** Where the per-deployment health gauges read from at scrape time (set by the gateway). */
  const sources: {
    health: () => DeploymentHealth[];
    ledgerWritable: () => boolean;
    /** Free and total bytes of the ledger's filesystem. */
    ledgerVolume: () => Promise<{ free: number; size: number } | null>;
    /** Credits each org with a plan can spend now (allowance left + wallet − holds), at scrape time. */
    orgCredits: () => Promise<Array<{ org: string; credits: number }>>;
  } = { health: () => [], ledgerWritable: () => true, ledgerVolume: async () => null, orgCredits: async () => [] };
  const healthGauge = (name: string, help: string, value: (h: DeploymentHealth) => number | null) =>
    new Gauge({
      name,
      help,
      labelNames: ['provider', 'model', 'region', 'credential'] as const,
      registers: [registry],
      collect() {
        this.reset();
        for (const h of sources.health()) {
          const v = value(h);
          if (v !== null) this.labels(h.provider, h.model, h.region ?? '', h.credential).set(v);
        }
      },
    });

  return {
    registry,
    sources,
    providerSuccessRatio: healthGauge(
      'tollbooth_provider_success_ratio',
      'Rolling share of 2xx answers (2xx vs 4xx/5xx) per deployment over the health window.',
      (h) => h.success_rate,
    ),
    providerLatencyP50: healthGauge('tollbooth_provider_latency_p50_seconds', 'Median upstream latency per deployment (recent requests).', (h) =>
      h.p50_latency_ms === null ? null : h.p50_latency_ms / 1000,
    ),
    providerLastCheck: healthGauge('tollbooth_provider_last_check_timestamp_seconds', 'When the deployment last answered or was probed (Unix time).', (h) =>
      h.last_check === null ? null : Date.parse(h.last_check) / 1000,
    ),
    breakerState: healthGauge('tollbooth_breaker_state', 'Circuit breaker per deployment: 0 closed, 1 half-open, 2 open.', (h) => BREAKER_STATE[h.breaker]),
    breakerTransitions: new Counter({
      name: 'tollbooth_breaker_transitions_total',
      help: 'Circuit breaker state changes per deployment, by from and to state (closed, half_open, open).',
      labelNames: ['provider', 'model', 'region', 'credential', 'from', 'to'] as const,
      registers: [registry],
      // The breakers count their own transitions; read at scrape time like the health gauges.
      collect() {
        this.reset();
        for (const h of sources.health()) {
          const deployment = [h.provider, h.model, h.region ?? '', h.credential] as const;
          for (const [from, to] of BREAKER_MOVES) this.labels(...deployment, from, to).inc(0);
          for (const t of h.breaker_transitions) this.labels(...deployment, t.from, t.to).inc(t.count);
        }
      },
    }),
    requests: new Counter({
      name: 'tollbooth_requests_total',
      help: 'Requests handled, by API (unified|native), operation, provider, catalog model and status class.',
      labelNames: ['api', 'operation', 'provider', 'model', 'status_class'] as const,
      registers: [registry],
    }),
    operationDuration: new Histogram({
      name: 'gen_ai_client_operation_duration_seconds',
      help: 'GenAI operation duration as the caller saw it (OTel gen_ai.client.operation.duration).',
      labelNames: [...GENAI, 'error_type'] as const,
      buckets: DURATION_BUCKETS,
      registers: [registry],
    }),
    timeToFirstChunk: new Histogram({
      name: 'gen_ai_client_operation_time_to_first_chunk_seconds',
      help: 'Time until the first streamed chunk reached the caller (OTel gen_ai.client.operation.time_to_first_chunk).',
      labelNames: GENAI,
      buckets: DURATION_BUCKETS,
      registers: [registry],
    }),
    tokenUsage: new Histogram({
      name: 'gen_ai_client_token_usage',
      help: 'Tokens per operation by type: input, output, cached, reasoning (OTel gen_ai.client.token.usage).',
      labelNames: [...GENAI, 'gen_ai_token_type'] as const,
      buckets: TOKEN_BUCKETS,
      registers: [registry],
    }),
    credits: new Counter({
      name: 'tollbooth_credits_charged_total',
      help: 'Credits charged for managed usage, by org, provider and catalog model.',
      labelNames: ['org', 'provider', 'model'] as const,
      registers: [registry],
    }),
    creditsByClass: new Counter({
      name: 'tollbooth_credits_by_class_total',
      help: 'Credits charged for managed usage, by org and bill line: run (the run credit), a token class (input, cache_read, cache_write_5m, cache_write_1h, output, reasoning, audio_*, image_*) or a unit (image, character, search, …).',
      labelNames: ['org', 'class'] as const,
      registers: [registry],
    }),
    unpriced: new Counter({
      name: 'tollbooth_unpriced_usage_total',
      help: 'Served calls that consumed something without a catalog price (an unpriced model, a unit without a price): that part metered at 0 credits, the run credit still charged.',
      labelNames: ['provider', 'model'] as const,
      registers: [registry],
    }),
    estimatedUsage: new Counter({
      name: 'tollbooth_usage_estimated_total',
      help: 'Calls whose usage was estimated because the provider reported none (cut stream, client abort).',
      labelNames: ['provider', 'model'] as const,
      registers: [registry],
    }),
    attempts: new Counter({
      name: 'tollbooth_upstream_attempts_total',
      help: 'Upstream attempts by result: served (answered the caller), retried (failed, another deployment tried), failed (the last one failed).',
      labelNames: ['provider', 'model', 'result'] as const,
      registers: [registry],
    }),
    deprecatedModelRequests: new Counter({
      name: 'tollbooth_deprecated_model_requests_total',
      help: 'Requests naming a deprecated, maintenance or retired catalog id, by the id asked for and the model that served.',
      labelNames: ['requested_model', 'served_model'] as const,
      registers: [registry],
    }),
    fallbacks: new Counter({
      name: 'tollbooth_fallbacks_total',
      help: 'Fallbacks from one deployment to the next after a retryable failure.',
      labelNames: ['from_provider', 'to_provider', 'model'] as const,
      registers: [registry],
    }),
    admissionDenials: new Counter({
      name: 'tollbooth_admission_denials_total',
      help: 'Requests refused by admission before any upstream call, by denial code (credits_exhausted, model_not_in_plan, provider_not_in_plan, rpm_exceeded, tpm_exceeded) and layer (org|key).',
      labelNames: ['code', 'layer'] as const,
      registers: [registry],
    }),
    ledgerCommitSeconds: new Histogram({
      name: 'tollbooth_ledger_append_seconds',
      help: 'Ledger append latency: from the first append of a commit batch to its fsync (the longest any entry of the batch waited).',
      buckets: [0.0005, 0.001, 0.002, 0.004, 0.008, 0.016, 0.032, 0.064, 0.128, 0.5],
      registers: [registry],
    }),
    ledgerBytes: new Counter({
      name: 'tollbooth_ledger_bytes_total',
      help: 'Bytes appended (and fsynced) to the ledger.',
      registers: [registry],
    }),
    ledgerBatchEntries: new Histogram({
      name: 'tollbooth_ledger_fsync_batch_entries',
      help: 'Entries carried by one ledger fsync (group commit).',
      buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 4096],
      registers: [registry],
    }),
    ledgerVolume: new Gauge({
      name: 'tollbooth_ledger_volume_bytes',
      help: "The filesystem the ledger directory is on, at scrape time: kind=free (available to this process) or kind=size. Size the volume by bytes per charge × charges between archive runs (README, Money).",
      labelNames: ['kind'] as const,
      registers: [registry],
      async collect() {
        const stats = await sources.ledgerVolume().catch(() => null);
        if (stats === null) return;
        this.labels('free').set(stats.free);
        this.labels('size').set(stats.size);
      },
    }),
    ledgerWritable: new Gauge({
      name: 'tollbooth_ledger_writable',
      help: 'Whether the ledger accepts writes: 1 yes, 0 no (a write or fsync failed; appending stopped until restart, as /readyz says).',
      registers: [registry],
      collect() {
        this.set(sources.ledgerWritable() ? 1 : 0);
      },
    }),
    orgCreditsAvailable: new Gauge({
      name: 'tollbooth_org_credits_available',
      help: "Credits an org with a plan can spend now: allowance left this period + wallet − credits held by requests in flight (read from the state store at scrape time; with state: redis, the same on every replica).",
      labelNames: ['org'] as const,
      registers: [registry],
      async collect() {
        this.reset();
        for (const { org, credits } of await sources.orgCredits().catch(() => [])) this.labels(org).set(credits);
      },
    }),
    stateStoreAvailable: new Gauge({
      name: 'tollbooth_state_store_available',
      help: 'Whether the store that decides money and limits can be reached: 1 yes, 0 no (state: redis and Redis unreachable: managed calls are denied, BYOK calls use per-process limits). Always 1 with state: memory.',
      labelNames: ['mode'] as const,
      registers: [registry],
    }),
    overHoldCharges: new Counter({
      name: 'tollbooth_over_hold_charges_total',
      help: 'Charges above the credits their request held (the provider reported more than the worst case): booked as debt, flagged over_hold in the ledger for review.',
      labelNames: ['provider', 'model'] as const,
      registers: [registry],
    }),
    stateStoreCalls: new Counter({
      name: 'tollbooth_state_store_calls_total',
      help: 'Round trips to the shared state store (state: redis), by operation: admit (rate limits and credit hold), settle (charge, hold and TPM correction), release, grant, balance.',
      labelNames: ['operation'] as const,
      registers: [registry],
    }),
    statePendingSettles: new Gauge({
      name: 'tollbooth_state_pending_settles',
      help: 'Charges written to the local ledger but not yet settled in the shared store (Redis was unreachable at the time); retried until it answers.',
      registers: [registry],
    }),
    ledgerTornTails: new Counter({
      name: 'tollbooth_ledger_torn_tails_total',
      help: 'Torn last lines (a write cut by a crash, never acknowledged) found at start and set aside to the quarantine directory.',
      registers: [registry],
    }),
    overhead: new Histogram({
      name: 'tollbooth_gateway_overhead_seconds',
      help: 'Time spent inside Tollbooth before the upstream call and after its headers, excluding the upstream.',
      labelNames: ['api'] as const,
      buckets: OVERHEAD_BUCKETS,
      registers: [registry],
    }),
    credentialVerifications: new Counter({
      name: 'tollbooth_credential_verifications_total',
      help: "Provider validation calls made for a credential's key, by result: valid, invalid, unreachable (no verdict), unsupported.",
      labelNames: ['provider', 'result'] as const,
      registers: [registry],
    }),
    credentialRotations: new Counter({
      name: 'tollbooth_credential_rotations_total',
      help: 'Attempts to activate a new secret (mounted file changed, or the rotate API): rotated, rotated_unverified (no validation call exists), rejected (failed verification: the old key stays), unverified (no verdict: the old key stays, retried), unreadable. credential is the config id, or "api" for org credentials.',
      labelNames: ['provider', 'credential', 'result'] as const,
      registers: [registry],
    }),
    configReloads: new Counter({
      name: 'tollbooth_config_reloads_total',
      help: 'Config reloads (mounted ConfigMap change or SIGHUP) by result: success, or failure (the last good config stays).',
      labelNames: ['result'] as const,
      registers: [registry],
    }),
    configLoadedAt: new Gauge({
      name: 'tollbooth_config_last_reload_success_timestamp_seconds',
      help: 'When the config in effect was loaded (Unix time).',
      registers: [registry],
    }),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;

const ATTEMPT_RESULTS = ['served', 'retried', 'failed'] as const;

/** What decides the label sets known in advance: the configured credentials and the state mode. */
export interface KnownSeries {
  credentials: ReadonlyArray<{ id: string; provider: string }>;
  /** Catalog models still served (not retired): their upstream attempts are known in advance. */
  models: ReadonlyArray<{ model_id: string; provider: string }>;
  stateMode: 'memory' | 'redis';
}

/**
 * Exports every labelled counter whose label values are known in advance at 0, so that the first
 * event is an increase from 0 that rate()/increase() see (a series that appears with its first
 * increment has no earlier sample to compare with). Called at start and after every reload (a new
 * credential brings new series); existing values are left alone (inc(0)).
 */
export function initialiseSeries(metrics: Metrics, known: KnownSeries): void {
  for (const result of ['success', 'failure']) metrics.configReloads.labels(result).inc(0);
  for (const [code, layer] of DENIALS) metrics.admissionDenials.labels(code, layer).inc(0);
  for (const { id, provider } of known.credentials) {
    for (const result of ROTATION_RESULTS) metrics.credentialRotations.labels(provider, id, result).inc(0);
  }
  const providers = new Set(known.credentials.map((c) => c.provider));
  for (const provider of providers) {
    for (const result of VERIFICATION_RESULTS) metrics.credentialVerifications.labels(provider, result).inc(0);
  }
  for (const { model_id, provider } of known.models) {
    if (providers.has(provider)) for (const result of ATTEMPT_RESULTS) metrics.attempts.labels(provider, model_id, result).inc(0);
  }
  if (known.stateMode === 'redis') {
    metrics.admissionDenials.labels('state_unavailable', 'state').inc(0);
    for (const operation of STATE_STORE_OPERATIONS) metrics.stateStoreCalls.labels(operation).inc(0);
  }
}

export function statusClass(status: number): string {
  return status >= 500 ? '5xx' : status >= 400 ? '4xx' : status >= 300 ? '3xx' : '2xx';
}
