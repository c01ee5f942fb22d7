/**
 * The headers Tollbooth consumes and never forwards upstream, in one place for every path (unified,
 * passthrough, audio, key verification): the caller's credentials (its Tollbooth key in whichever
 * header its SDK uses, X-Organization-ID), every Proxy-* header (Proxy-Authorization above all), and
 * the hop-by-hop headers of RFC 9110 §7.6.1 (Connection, the headers Connection names, Keep-Alive,
 * TE, Trailer, Transfer-Encoding, Upgrade). The upstream's own credential is set after this.
 */
import type { IncomingHttpHeaders } from 'node:http';
import { CALLER_KEY_HEADERS } from '../admission/caller-auth.ts';

const CONSUMED = new Set<string>([
  ...CALLER_KEY_HEADERS,
  'x-organization-id',
  'connection',
  'keep-alive',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'http2-settings',
]);

/** Whether `name` (any case) is consumed by Tollbooth: never sent upstream from the caller. */
export function isConsumedHeader(name: string): boolean {
  const lower = name.toLowerCase();
  return CONSUMED.has(lower) || lower.startsWith('proxy-');
}

/**
 * The caller's headers that may travel upstream: none that Tollbooth consumes, none that the
 * caller's Connection header names as hop-by-hop, and none in `alsoDrop` (the route's own choices).
 */
export function forwardableHeaders(incoming: IncomingHttpHeaders, alsoDrop: ReadonlySet<string> = new Set()): Record<string, string> {
  const named = hopByHopNamed(incoming.connection);
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(incoming)) {
    if (value === undefined || alsoDrop.has(name) || named.has(name) || isConsumedHeader(name)) continue;
    out[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  return out;
}

/** Removes, in place, every consumed header from an outbound request's headers (any case). */
export function stripConsumedHeaders(headers: Record<string, string>): void {
  const named = hopByHopNamed(headers.connection ?? headers.Connection);
  for (const name of Object.keys(headers)) {
    if (isConsumedHeader(name) || named.has(name.toLowerCase())) delete headers[name];
  }
}

function hopByHopNamed(connection: string | string[] | undefined): Set<string> {
  if (connection === undefined) return new Set();
  const text = Array.isArray(connection) ? connection.join(',') : connection;
  return new Set(text.split(',').map((t) => t.trim().toLowerCase()).filter(Boolean));
}
