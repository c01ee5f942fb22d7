/**
 * What a Bedrock test needs around FakeUpstream: a test AWS credential (built at runtime, never a
 * real key), recorded ConverseStream events re-encoded as REAL binary event-stream frames, and a
 * SigV4 check that the fake upstream applies to every request, as Bedrock would.
 */
import { createHash } from 'node:crypto';
import { EventStreamCodec } from '@smithy/eventstream-codec';
import { Hash } from '@smithy/hash-node';
import { SignatureV4 } from '@smithy/signature-v4';
import type { MessageHeaders } from '@smithy/types';
import { fromUtf8, toUtf8 } from '@smithy/util-utf8';
import type { Reply, SeenRequest } from '../../support/fake-upstream.ts';
import { chunkLines } from '../../support/fixtures.ts';

/** Looks like an access key id to the parser, and is obviously not one. */
export const TEST_AWS = {
  accessKeyId: 'AKIA' + 'TESTTESTTESTTEST',
  secretAccessKey: ['tollbooth', 'test', 'secret', 'not', 'a', 'real', 'key'].join('-'),
  region: 'us-east-1',
};
export const TEST_AWS_CREDENTIAL_STRING = `${TEST_AWS.accessKeyId}::${TEST_AWS.secretAccessKey}::${TEST_AWS.region}`;

const codec = new EventStreamCodec(toUtf8, fromUtf8);

/** Bedrock pads each event payload with a random-length `p` field (SOURCES.md); any value will do. */
function padding(i: number): string {
  return 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789'.slice(0, 5 + ((i * 7) % 40));
}

export function eventFrame(eventType: string, payload: Record<string, unknown>, i = 0): Buffer {
  const headers: MessageHeaders = {
    ':event-type': { type: 'string', value: eventType },
    ':content-type': { type: 'string', value: 'application/json' },
    ':message-type': { type: 'string', value: 'event' },
  };
  return Buffer.from(codec.encode({ headers, body: fromUtf8(JSON.stringify({ ...payload, p: padding(i) })) }));
}

export function exceptionFrame(exceptionType: string, message: string): Buffer {
  const headers: MessageHeaders = {
    ':exception-type': { type: 'string', value: exceptionType },
    ':content-type': { type: 'string', value: 'application/json' },
    ':message-type': { type: 'string', value: 'exception' },
  };
  return Buffer.from(codec.encode({ headers, body: fromUtf8(JSON.stringify({ message })) }));
}

/** A recording's decoded events (`{"<eventType>": payload}` per line), in order. */
export function recordedEvents(path: string): { type: string; payload: Record<string, unknown> }[] {
  return chunkLines(path).map((line) => {
    const [type, payload] = Object.entries(JSON.parse(line) as Record<string, Record<string, unknown>>)[0]!;
    return { type, payload };
  });
}

/** The recording as the frames Bedrock would send. */
export function recordedFrames(path: string): Buffer[] {
  return recordedEvents(path).map((e, i) => eventFrame(e.type, e.payload, i));
}

export function eventStreamReply(frames: Buffer[], extra: { cut?: boolean } = {}): Reply {
  return { headers: { 'content-type': 'application/vnd.amazon.eventstream' }, frames, ...extra };
}

/** What a recording says the caller should end up with. */
export function expectedFromEvents(path: string) {
  let text = '';
  let reasoning = '';
  let usage: { inputTokens: number; outputTokens: number; totalTokens: number; cacheReadInputTokens?: number; cacheWriteInputTokens?: number } | null = null;
  let stopReason: string | null = null;
  for (const { type, payload } of recordedEvents(path)) {
    const delta = payload.delta as { text?: string; reasoningContent?: { text?: string } } | undefined;
    if (type === 'contentBlockDelta') {
      text += delta?.text ?? '';
      reasoning += delta?.reasoningContent?.text ?? '';
    }
    if (type === 'messageStop') stopReason = payload.stopReason as string;
    if (type === 'metadata') usage = payload.usage as typeof usage;
  }
  return { text, reasoning, usage: usage!, stopReason };
}

/**
 * Recomputes the SigV4 signature of a request the fake upstream received, with the key it is
 * supposed to be signed with, from what arrived on the wire (method, raw path, signed headers,
 * body). Independent of Tollbooth's signer: only @smithy/signature-v4 and the request bytes.
 */
export async function verifySigV4(seen: SeenRequest, key = TEST_AWS): Promise<{ ok: true } | { ok: false; reason: string }> {
  const authorization = String(seen.headers.authorization ?? '');
  const match = /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, SignedHeaders=([^,]+), Signature=([0-9a-f]{64})$/.exec(authorization);
  if (!match) return { ok: false, reason: 'no SigV4 Authorization header' };
  const [, accessKeyId, , region, service, signedList] = match;
  if (accessKeyId !== key.accessKeyId) return { ok: false, reason: 'signed with another access key' };
  if (region !== key.region || service !== 'bedrock') return { ok: false, reason: `wrong scope ${region}/${service}` };
  const signed = signedList!.split(';');
  if (!signed.includes('host') || !signed.includes('x-amz-date')) return { ok: false, reason: 'host or x-amz-date not signed' };
  const bodyHash = createHash('sha256').update(seen.body).digest('hex');
  const declared = seen.headers['x-amz-content-sha256'];
  if (declared !== undefined && declared !== bodyHash) return { ok: false, reason: 'x-amz-content-sha256 does not match the body' };

  const headers: Record<string, string> = {};
  for (const name of signed) {
    const value = seen.headers[name];
    if (value === undefined) return { ok: false, reason: `signed header ${name} missing` };
    headers[name] = Array.isArray(value) ? value.join(',') : value;
  }
  const amzDate = headers['x-amz-date']!;
  const signingDate = new Date(`${amzDate.slice(0, 4)}-${amzDate.slice(4, 6)}-${amzDate.slice(6, 8)}T${amzDate.slice(9, 11)}:${amzDate.slice(11, 13)}:${amzDate.slice(13, 15)}Z`);
  const [hostname, port] = headers.host!.split(':');
  const q = seen.url.indexOf('?');
  const query = q === -1 ? {} : Object.fromEntries(new URLSearchParams(seen.url.slice(q + 1)));
  const signer = new SignatureV4({
    service: 'bedrock',
    region: key.region,
    credentials: { accessKeyId: key.accessKeyId, secretAccessKey: key.secretAccessKey },
    sha256: Hash.bind(null, 'sha256'),
    applyChecksum: signed.includes('x-amz-content-sha256'),
  });
  const expected = await signer.sign(
    { method: seen.method, protocol: 'http:', hostname: hostname!, port: port ? Number(port) : undefined, path: seen.path, query, headers, body: seen.body },
    { signingDate },
  );
  return expected.headers.authorization === authorization ? { ok: true } : { ok: false, reason: 'signature mismatch' };
}

/** A responder that answers like Bedrock to a bad signature (403) and otherwise with `reply`. */
export function signed(reply: Reply | ((req: SeenRequest) => Reply), key = TEST_AWS): (req: SeenRequest) => Promise<Reply> {
  return async (req) => {
    const check = await verifySigV4(req, key);
    if (!check.ok) {
      return {
        status: 403,
        headers: { 'x-amzn-ErrorType': 'InvalidSignatureException:http://internal.amazon.com/coral/com.amazon.coral.service/' },
        json: { message: `The request signature we calculated does not match the signature you provided (${check.reason}).` },
      };
    }
    return typeof reply === 'function' ? reply(req) : reply;
  };
}
