/**
 * Proves a key works before it is activated: the provider's cheap validation call from the catalog
 * (`validation: {method, path}` — GET /models for OpenAI-compatible vendors and Azure, Anthropic
 * /v1/models, Gemini /v1beta/models, Cohere POST /v1/check-api-key, xAI /v1/api-key, OpenRouter
 * /api/v1/key, Bedrock ListFoundationModels on the control-plane host), sent with the candidate key
 * exactly as a real request carries it (applyCredential: a header, or SigV4 when a signer is
 * registered; a workload identity credential with its identity's current keys or token). Nothing of
 * the answer is kept but its verdict.
 */
import type { ProviderRecord } from '../catalog/types.ts';
import { GatewayError, isGatewayError } from '../errors/catalog.ts';
import { parseUpstreamError } from '../providers/upstream-error.ts';
import { baseUrlFor, type Target } from '../routing/target.ts';
import type { OutboundRequest, UpstreamResponse } from '../upstream/transport.ts';
import { redactSecrets } from '../util/redact.ts';
import { awsRegion } from './aws/credential-string.ts';
import { applyCredential } from './backend-auth.ts';
import { isOrgOwned, type Credential } from './store.ts';
import { printable } from '../util/printable.ts';
import { checkedAddress, refused, sendPinned, targetAllowance, type VerificationPolicy } from './verification-target.ts';

export type Send = (req: OutboundRequest, signal: AbortSignal) => Promise<UpstreamResponse>;

/**
 * valid: the provider accepted the key. invalid: it refused it (401/403, or 400/404 as xAI and
 * Gemini answer a bad key). unreachable: no verdict (network, timeout, 408/429/5xx) — try again
 * later. unsupported: no validation call exists for this provider or credential kind.
 */
export type Verification =
  | { result: 'valid'; status: number }
  | { result: 'invalid'; status: number | null; reason: string }
  | { result: 'unreachable'; status: number | null; reason: string }
  | { result: 'unsupported'; reason: string };

export const VERIFY_TIMEOUT_MS = 10_000;
/** Enough of a validation answer to read its verdict flags; the rest is not read. */
const MAX_BODY_BYTES = 64 * 1024;

/** The validation call for `credential`, before the credential is put on it. */
export function validationRequest(
  provider: ProviderRecord,
  credential: Credential,
): { target: Target; request: OutboundRequest } | { unsupported: string } | { invalid: string } {
  const check = provider.validation;
  if (check === null) return { unsupported: `the catalog lists no validation call for ${provider.name}` };
  if (credential.secret === null && !credential.identity) return { unsupported: 'the credential has no secret to verify' };
  let url: string;
  let baseUrl: string;
  if (check.path.startsWith('https://')) {
    // A check on another host (Bedrock's control plane): only the region is filled in.
    const region = regionOf(provider, credential);
    if ('invalid' in region) return region;
    url = region.region === null ? check.path : check.path.replaceAll('{region}', region.region);
    if (url.includes('{region}')) return { unsupported: `credential '${credential.id}' names no region` };
    baseUrl = new URL(url).origin;
  } else {
    const base = baseUrlFor(provider, credential);
    if ('missing' in base) return { unsupported: base.missing };
    baseUrl = base.url;
    url = base.url + check.path;
  }
  // Azure's data plane wants its api-version on every call, this one included.
  if (credential.apiVersion !== null) url += `${url.includes('?') ? '&' : '?'}api-version=${encodeURIComponent(credential.apiVersion)}`;
  return {
    target: { provider, model: null, upstreamModel: '', credential, baseUrl, weight: 1 },
    request: { method: check.method, url, headers: { ...provider.default_headers, accept: 'application/json' }, body: check.method === 'POST' ? '' : null },
  };
}

/**
 * Runs the validation call. An operator's credential (from the config) goes through `send`; an org's
 * (created over the API: its base URL is the caller's choice) only to a target `policy` allows, on
 * the address checked (verification-target.ts), else `verification_target_refused` is thrown.
 */
export async function verifyCredential(
  provider: ProviderRecord,
  credential: Credential,
  send: Send,
  timeoutMs = VERIFY_TIMEOUT_MS,
  policy: VerificationPolicy = { operatorBaseUrls: [] },
): Promise<Verification> {
  const built = validationRequest(provider, credential);
  if ('unsupported' in built) return { result: 'unsupported', reason: built.unsupported };
  if ('invalid' in built) return { result: 'invalid', status: null, reason: built.invalid };
  const { target, request } = built;
  try {
    await applyCredential(target, request);
  } catch (err) {
    if (isGatewayError(err) && err.code === 'operation_not_supported') {
      return { result: 'unsupported', reason: `${provider.name} keys cannot be verified by this build (${err.message})` };
    }
    // A workload identity that gave no keys is no verdict on them (an identity endpoint may be down).
    if (isGatewayError(err) && credential.identity && err.code === 'credential_unavailable') return { result: 'unreachable', status: null, reason: err.message };
    if (isGatewayError(err)) return { result: 'invalid', status: null, reason: err.message };
    throw err;
  }
  let response: UpstreamResponse;
  try {
    if (isOrgOwned(credential)) {
      const allowance = targetAllowance(provider, target.baseUrl, policy);
      if (allowance === null) throw refused(`'${printable(target.baseUrl, 120)}' is neither ${provider.name}'s catalog base URL nor one the operator's config allows`);
      const address = await checkedAddress(request.url, allowance.allowPrivate, policy);
      response = await sendPinned(request, address, AbortSignal.timeout(timeoutMs), timeoutMs);
    } else {
      response = await send(request, AbortSignal.timeout(timeoutMs));
    }
  } catch (err) {
    if (isGatewayError(err) && err.code === 'verification_target_refused') throw err;
    const reason = isGatewayError(err) ? err.message : 'the validation call failed';
    return { result: 'unreachable', status: null, reason };
  }
  const body = await response.body.bytes(MAX_BODY_BYTES).catch(() => Buffer.alloc(0));
  const status = response.statusCode;
  const secret = credential.secret?.reveal();
  if (status >= 200 && status < 300) {
    const refused = refusedInBody(body);
    return refused === null ? { result: 'valid', status } : { result: 'invalid', status, reason: refused };
  }
  const code = parseUpstreamError(body, response.headers).code;
  const reason = `${provider.name} answered HTTP ${status}${code ? ` (${printable(redactSecrets(code, secret ? [secret] : []), 100)})` : ''}`;
  if (status === 408 || status === 429 || status >= 500) return { result: 'unreachable', status, reason };
  return { result: 'invalid', status, reason };
}

/**
 * Some checks answer 200 with a verdict inside: Cohere's check-api-key `{valid: false}`, xAI's
 * api-key record with `api_key_blocked` / `api_key_disabled` / `team_blocked`.
 */
function refusedInBody(body: Buffer): string | null {
  let json: unknown;
  try {
    json = JSON.parse(body.toString('utf8'));
  } catch {
    return null;
  }
  if (typeof json !== 'object' || json === null) return null;
  const record = json as Record<string, unknown>;
  if (record.valid === false) return 'the provider reports the key as not valid';
  for (const flag of ['api_key_blocked', 'api_key_disabled', 'team_blocked']) {
    if (record[flag] === true) return `the provider reports the key as ${flag.replaceAll('_', ' ')}`;
  }
  return null;
}

function regionOf(provider: ProviderRecord, credential: Credential): { region: string | null } | { invalid: string } {
  const sigv4 = provider.auth_schemas.some((s) => s.type === 'aws_sigv4');
  if (sigv4 && credential.secret !== null) return awsRegion(credential.secret.reveal(), credential.region);
  return { region: credential.region };
}


/** A refused or unverifiable new secret, as the admin API reports it (nothing was changed). */
export function verificationError(provider: string, v: Extract<Verification, { result: 'invalid' | 'unreachable' }>): GatewayError {
  if (v.result === 'invalid') return new GatewayError('credential_invalid', `The new secret failed verification with ${provider}: ${v.reason}. Nothing was changed.`);
  return new GatewayError('credential_unverified', `The new secret could not be verified with ${provider}: ${v.reason}. Nothing was changed; try again.`);
}
