/**
 * Whether traces are on and where they go: the config's `telemetry.traces` block first, then the
 * standard OTEL_* environment variables (https://opentelemetry.io/docs/specs/otel/configuration/sdk-environment-variables/).
 * Off unless one of them asks for it. No SDK here: this runs at every start, traced or not.
 */
import type { TracesConfig } from '../config/types.ts';

export interface TraceSettings {
  /** The full OTLP/HTTP traces URL. */
  endpoint: string;
  serviceName: string;
  /** Parent-based ratio sampling of new traces; null: the SDK's OTEL_TRACES_SAMPLER (default parentbased_always_on). */
  sampleRatio: number | null;
}

const DEFAULT_ENDPOINT = 'http://localhost:4318/v1/traces';

/** The trace settings, or null when tracing is off. */
export function traceSettings(config: TracesConfig, env: NodeJS.ProcessEnv): TraceSettings | null {
  // The spec's kill switch wins over everything.
  if (env.OTEL_SDK_DISABLED?.trim().toLowerCase() === 'true') return null;
  const exporter = env.OTEL_TRACES_EXPORTER?.trim().toLowerCase();
  const traceEndpoint = nonEmpty(env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT);
  const baseEndpoint = nonEmpty(env.OTEL_EXPORTER_OTLP_ENDPOINT);
  // Unlike the SDK's own default (otlp), an unset OTEL_TRACES_EXPORTER alone does not turn traces
  // on: a sidecar exports only where someone pointed it.
  const fromEnv = exporter !== 'none' && (exporter === 'otlp' || traceEndpoint !== null || baseEndpoint !== null);
  if (!(config.enabled ?? fromEnv)) return null;
  return {
    // The signal-specific variable is used as is; the base one gets the signal's path (the spec's rule).
    endpoint: config.endpoint ?? traceEndpoint ?? (baseEndpoint === null ? DEFAULT_ENDPOINT : `${baseEndpoint.replace(/\/$/, '')}/v1/traces`),
    serviceName: config.service_name ?? nonEmpty(env.OTEL_SERVICE_NAME) ?? 'tollbooth',
    sampleRatio: config.sample_ratio,
  };
}

function nonEmpty(value: string | undefined): string | null {
  const v = value?.trim();
  return v ? v : null;
}
