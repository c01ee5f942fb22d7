/**
 * Every metric name in one place. GenAI metrics follow the OpenTelemetry GenAI semantic
 * conventions (dots → underscores, unit suffix per Prometheus rules); our own carry the
 * `tollbooth_` prefix. Label values come only from config and catalog (provider, catalog model id,
 * operation, status class, credential id, org id) — never from caller-supplied strings.
 */
import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

// OTel's advised buckets for gen_ai.client.operation.duration and gen_ai.client.token.usage.
const DURATION_BUCKETS = [0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92];
const TOKEN_BUCKETS = [1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864];
const OVERHEAD_BUCKETS = [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1];

const GENAI = ['gen_ai_operation_name', 'gen_ai_provider_name', 'gen_ai_request_model'] as const;

export function createMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'tollbooth_process_' });

  return {
    registry,
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
    unpriced: new Counter({
      name: 'tollbooth_unpriced_usage_total',
      help: 'Served calls to a model without a catalog price: metered at 0 credits.',
      labelNames: ['provider', 'model'] as const,
      registers: [registry],
    }),
    estimatedUsage: new Counter({
      name: 'tollbooth_usage_estimated_total',
      help: 'Calls whose usage was estimated because the provider reported none (cut stream, client abort).',
      labelNames: ['provider', 'model'] as const,
      registers: [registry],
    }),
    overhead: new Histogram({
      name: 'tollbooth_gateway_overhead_seconds',
      help: 'Time spent inside Tollbooth before the upstream call and after its headers, excluding the upstream.',
      labelNames: ['api'] as const,
      buckets: OVERHEAD_BUCKETS,
      registers: [registry],
    }),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;

export function statusClass(status: number): string {
  return status >= 500 ? '5xx' : status >= 400 ? '4xx' : status >= 300 ? '3xx' : '2xx';
}
