/**
 * Traces, as the rest of the gateway sees them: a server span per request, a client span per
 * upstream attempt, W3C trace context from the caller to every attempt. Off by default; when off,
 * nothing of OpenTelemetry is loaded and the pipeline's hooks are one `undefined` check each (the
 * request's `trace` is absent). When on, the SDK (otel.ts) is imported once, at start.
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { TracesConfig } from '../config/types.ts';
import type { GatewayError } from '../errors/catalog.ts';
import type { Resolution } from '../catalog/deprecation.ts';
import type { ExchangeOutcome, UsageRecord } from '../metering/record.ts';
import type { Target } from '../routing/target.ts';
import type { OutboundRequest } from '../upstream/transport.ts';
import type { Logger } from '../util/log.ts';
import { traceSettings } from './settings.ts';

export interface Tracing {
  /** The server span of one request, its parent the caller's traceparent (if any). */
  request(method: string, path: string, headers: IncomingHttpHeaders, requestId: string): RequestTrace;
  /** Ends the exporter after sending what is buffered (the drain on SIGTERM). */
  shutdown(): Promise<void>;
}

/** One request's server span; the exchange pipeline and the listener feed it. */
export interface RequestTrace {
  /** The route that matched (http.route; the span's name until the exchange gives a GenAI one). */
  route(route: string): void;
  /** Admitted: the GenAI request attributes, org, deprecation; the span is named `{operation} {model}`. */
  exchange(x: TracedExchange): void;
  /** A client span for one upstream attempt (1-based), a child of this request's span. */
  attempt(target: Target, n: number): AttemptTrace;
  /** The charge: usage, credits, the provider and model that served. */
  settled(record: UsageRecord): void;
  /** The error the caller was answered with. */
  failed(error: GatewayError): void;
  /** The response finished (or was cut: 499). Ends the span. */
  end(status: number): void;
}

/** What the request span takes from the exchange (ExchangeRequest's fields, named here to keep the imports one-way). */
export interface TracedExchange {
  api: 'unified' | 'native';
  operation: string;
  stream: boolean;
  requestedModel: string | null;
  caller: { orgId: string };
  resolution?: Resolution;
}

export interface AttemptTrace {
  /** The attempt's HTTP attributes, and its traceparent (the caller's tracestate kept) on the request. */
  send(outbound: OutboundRequest): void;
  /** Ends the span: the upstream's status (null: none), the outcome, the error if it failed, the charge if it was the metered attempt. */
  end(status: number | null, outcome: ExchangeOutcome, error: GatewayError | null, record: UsageRecord | null, retried?: boolean): void;
}

/**
 * Starts tracing when the config or the environment asks for it, else answers null without loading
 * OpenTelemetry at all.
 */
export async function startTracing(config: TracesConfig, env: NodeJS.ProcessEnv, instance: string, log: Logger): Promise<Tracing | null> {
  const settings = traceSettings(config, env);
  if (settings === null) return null;
  const { OtelTracing } = await import('./otel.ts');
  const tracing = new OtelTracing(settings, instance, log);
  // The endpoint may carry user info: its origin only.
  log.info({ endpoint: safeOrigin(settings.endpoint), service: settings.serviceName }, 'traces on: exporting spans over OTLP/HTTP');
  return tracing;
}

/**
 * With tracing off the gateway is a plain hop for trace context: the caller's traceparent and
 * tracestate go upstream unchanged (passthrough forwards the caller's headers anyway; this makes the
 * unified API do the same). Nothing is invented when the caller sent none.
 */
export function forwardCallerTrace(incoming: IncomingHttpHeaders | undefined, headers: Record<string, string>): void {
  const traceparent = incoming?.traceparent;
  if (typeof traceparent !== 'string') return;
  headers.traceparent = traceparent;
  const tracestate = incoming!.tracestate;
  if (tracestate !== undefined) headers.tracestate = Array.isArray(tracestate) ? tracestate.join(',') : tracestate;
}

function safeOrigin(url: string): string {
  try {
    const u = new URL(url);
    return u.origin + u.pathname;
  } catch {
    return 'invalid URL';
  }
}
