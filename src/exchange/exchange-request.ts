/**
 * What a route hands the exchange pipeline: the admitted request, how to build the upstream request
 * for a target, and the body handler for its answer. Every operation (unified, passthrough, audio,
 * and next ones) is one of these; the pipeline (attempt-loop.ts) does the rest the same way.
 */
import type { ServerResponse } from 'node:http';
import type { Caller } from '../admission/caller-auth.ts';
import type { Admission } from '../admission/gate.ts';
import type { Resolution } from '../catalog/deprecation.ts';
import type { Operation } from '../catalog/types.ts';
import type { MeteredOperation } from '../metering/record.ts';
import type { GatewayError } from '../errors/catalog.ts';
import type { ExchangeOutcome } from '../metering/record.ts';
import type { Usage } from '../metering/usage.ts';
import type { NativeRequestInfo, ProviderAdapter } from '../providers/contract.ts';
import type { Strategy } from '../routing/routing-health.ts';
import type { Target } from '../routing/target.ts';
import type { RequestContext } from '../server/services.ts';
import type { OutboundRequest, UpstreamResponse } from '../upstream/transport.ts';

export interface ExchangeRequest {
  ctx: RequestContext;
  caller: Caller;
  /** Settled by the Meter with the charge; released (proxy-server.ts) if no upstream was reached. */
  admission: Admission;
  api: 'unified' | 'native';
  operation: Operation;
  /** What the ledger and metrics call it, when not `operation` (a token count rides the chat pipeline). */
  meteredOperation?: MeteredOperation;
  stream: boolean;
  requestedModel: string | null;
  /** How the unified API resolved the requested model (deprecations followed); absent on passthrough. */
  resolution?: Resolution;
  /** The admitted deployments, in fallback order. */
  targets: Target[];
  strategy: Strategy;
  /** The caller named the deployment (passthrough): breakers are fed, not consulted (attempt-loop.ts). */
  pinned?: boolean;
  /** Size of the request, for estimating prompt tokens when no usage is reported. */
  promptChars: number;
  /** Headers every answer carries (x-request-id, deprecation notices). */
  headers: Record<string, string>;
  /** False when the request body can be sent once only (an upload streamed through). */
  replayable: boolean;
  /** A passthrough request's description (what its tap reads), null on the unified API. */
  native: NativeRequestInfo | null;
  /** The translator and upstream request for one target. May throw (retryable: next target). */
  prepare(target: Target): Prepared;
  /** Runs once the upstream has answered for good, before the caller hears back (an upload's spool). */
  requestSpent?: () => Promise<void>;
  handler: BodyHandler;
}

export interface Prepared {
  adapter: ProviderAdapter;
  outbound: OutboundRequest;
  /** What translating the answer needs from this request (UpstreamRequest.context), carried to the body handler. */
  context: unknown;
}

/** One attempt whose upstream answered with a success head, as a body handler sees it. */
export interface Attempt {
  x: ExchangeRequest;
  target: Target;
  /** 1-based attempt number. */
  n: number;
  adapter: ProviderAdapter;
  /** The translator's per-request value (Prepared.context). */
  context: unknown;
  response: UpstreamResponse;
  firstByteAt: number;
  signal: AbortSignal;
  /** The exchange's headers plus which provider served and after how many attempts. */
  clientHeaders: Record<string, string>;
  /** The answer starts to reach the client: no failover and no routing deadline from here. */
  commit(): void;
}

/** What a body handler made of the answer. */
export type BodyResult =
  /** The upstream failed before any byte reached the client (a bad 200): its failure, maybe retried. */
  | { served: false; error: GatewayError }
  | {
      served: true;
      outcome: ExchangeOutcome;
      /** What is charged (usage.ts billedUsage: the one money rule). */
      usage: Usage | null;
      /** The upstream's status as the client saw it (the pipeline records 499 for an abort). */
      status: number;
      /** Sends what was held back (the final bytes) once `written` says the charge is in the ledger. */
      finish(written: Promise<void>): Promise<void> | void;
    };

/** The last attempt failed and nothing reached the client. */
export interface FailedAttempt {
  error: GatewayError;
  status: number;
  outcome: ExchangeOutcome;
  firstByteAt: number | null;
  /** The upstream's own error answer, when there was one (a passthrough relays it). */
  upstream?: { status: number; headers: UpstreamResponse['headers']; raw: Buffer | null };
}

/** Per operation: how an answer goes back to the caller (translate, pass through, whole). */
export interface BodyHandler {
  /** How much of an upstream error body is read; `strict`: past the limit the read fails. */
  errorBody(x: ExchangeRequest): { limit: number; strict: boolean };
  serve(attempt: Attempt, res: ServerResponse): Promise<BodyResult>;
  /** Answers a final failure; without it the error is thrown for the route's envelope. */
  fail?(x: ExchangeRequest, failed: FailedAttempt, res: ServerResponse): void;
}
