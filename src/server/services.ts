/** What every handler may use: the live runtime snapshot and the long-lived services. */
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import type { RuntimeHolder, Runtime } from '../runtime/runtime.ts';
import type { Admission, AdmissionGate } from '../admission/gate.ts';
import type { Ledger } from '../metering/ledger/ledger.ts';
import type { ChargeBook } from '../state/charge-book.ts';
import type { Meter } from '../metering/meter.ts';
import type { Metrics } from '../metrics/registry.ts';
import type { RoutingHealth } from '../routing/routing-health.ts';
import type { RequestTrace, Tracing } from '../telemetry/tracing.ts';
import type { Upstream } from '../upstream/transport.ts';
import type { Logger } from '../util/log.ts';

export interface Services {
  runtime: RuntimeHolder;
  upstream: Upstream;
  meter: Meter;
  /** This process's ledger file: every charge and grant it booked. */
  ledger: Ledger;
  /** Books charges and grants: the state store decides balances, the ledger records them. */
  book: ChargeBook;
  /** Plan, rate-limit and credit checks before any upstream call. */
  admission: AdmissionGate;
  metrics: Metrics;
  log: Logger;
  /** One line per request, from safe fields only: no path redaction (see util/log.ts). */
  accessLog: Logger;
  /** Health windows and breakers per deployment: outlives config reloads. */
  health: RoutingHealth;
  /** OpenTelemetry traces; null when off (the default). */
  tracing: Tracing | null;
}

/** Per request: its id, the runtime snapshot it started under, and when it started. */
export interface RequestContext {
  id: string;
  runtime: Runtime;
  services: Services;
  startedAt: number;
  /** Path without the query string. */
  path: string;
  query: string;
  /** Set by the handler once admitted; released when the handler returns (a no-op once settled). */
  admission?: Admission;
  /** The caller's request headers (its trace context is forwarded upstream when tracing is off). */
  incoming?: IncomingHttpHeaders;
  /** The request's server span, when tracing is on. */
  trace?: RequestTrace;
  /** Metric labels, filled in by the handler as it learns them (catalog values only). */
  labels: { api: 'unified' | 'native' | 'other'; operation: string; provider: string; model: string };
}

export type Handler = (ctx: RequestContext, req: IncomingMessage, res: ServerResponse) => Promise<void>;
