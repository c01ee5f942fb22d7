/**
 * The adapter contract. An adapter is a set of translations for one target (one API pair: unified ↔
 * the provider's wire; passthrough is the identity plus a usage tap): it builds the upstream request
 * from the unified one, turns a response or stream back into the unified shape plus usage, and maps
 * upstream errors. It holds no per-request state: what translating an answer needs from its
 * request travels in `UpstreamRequest.context` (and a passthrough's in its NativeRequestInfo), which
 * the exchange pipeline carries. It does no I/O: transport, signing, retries, metering and metrics
 * live outside it.
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { Operation } from '../catalog/types.ts';
import type { GatewayError } from '../errors/catalog.ts';
import type { Usage } from '../metering/usage.ts';
import type { Target } from '../routing/target.ts';

export interface UpstreamRequest<C = unknown> {
  method: 'GET' | 'POST';
  /** Path (and query) appended to the target's base URL. */
  path: string;
  headers: Record<string, string>;
  body: string | Uint8Array | null;
  /** What translating this request's answer needs from it: handed back to `response` and `stream`. */
  context: C;
}

export interface TranslatedResponse {
  /** What the client receives (unified shape). */
  body: string | Uint8Array;
  usage: Usage | null;
}

/** Why a stream ended: cleanly, with an upstream error event, or cut before its end. */
export type StreamOutcome = 'complete' | 'error' | 'truncated';

export interface StreamTranslator {
  /**
   * Feeds upstream bytes; returns what to send the client now ('' when nothing): text, or the
   * upstream bytes themselves when they are exactly what the client gets (nothing to encode).
   */
  push(chunk: Uint8Array): string | Uint8Array;
  /** The upstream body ended; returns the last client bytes (an explicit error event when cut). */
  finish(): string;
  /** Latest usage reported so far (cumulative counts: the last value wins). */
  readonly usage: Usage | null;
  readonly outcome: StreamOutcome | null;
  /** Characters of generated text seen, for estimating usage when none is reported. */
  readonly generatedChars: number;
}

/** What a native (passthrough) request is, read from its path and body. */
export interface NativeRequestInfo {
  operation: Operation;
  /** The provider's model name, when the request names one. */
  upstreamModel: string | null;
  stream: boolean;
  /** The provider does not bill this call by tokens (a model listing, a token count): usage 0. */
  unbilled?: true;
  /** Non-token units the request itself fixes (speech: its input's characters). */
  units?: Record<string, number>;
  /** Images: the variant the request asks for (`<size>[:<quality>]`), naming the images an answer leaves plain. */
  imageVariant?: string;
}

/** Reads usage from a native response without changing a byte of it. */
export interface UsageTap {
  push(chunk: Uint8Array): void;
  finish(): { usage: Usage | null; outcome: StreamOutcome; generatedChars: number };
}

export interface ProviderAdapter<C = unknown> {
  /** For audio_transcription only method, path and headers are used: the multipart body is relayed as is. */
  request(operation: Operation, body: Record<string, unknown>): UpstreamRequest<C>;
  response(operation: Operation, raw: Uint8Array, context: C): TranslatedResponse;
  stream(operation: Operation, context: C): StreamTranslator;
  error(status: number, headers: IncomingHttpHeaders, raw: Uint8Array): GatewayError;
  /** Native passthrough: what the request is, and a tap on its response. */
  describeNative(path: string, body: unknown): NativeRequestInfo;
  tap(info: NativeRequestInfo, contentType: string): UsageTap;
}

export type AdapterFactory = (target: Target) => ProviderAdapter<any>;
