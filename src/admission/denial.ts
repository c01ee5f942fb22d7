/**
 * The seed's flat DenialEnvelope, `{code, layer, key, current, limit, reason}`, for requests that
 * admission refuses before any upstream call: 402 (credits), 403 (plan), 429 (rate limits).
 *
 * | code                 | status | layer     | key      | current                          | limit                         |
 * |----------------------|--------|-----------|----------|----------------------------------|-------------------------------|
 * | credits_exhausted    | 402    | org       | org id   | credits available now (decimal)  | credits this request reserves |
 * | model_not_in_plan    | 403    | org       | org id   | the model asked for              | the plan's models             |
 * | provider_not_in_plan | 403    | org       | org id   | the provider(s) that would serve | the plan's providers          |
 * | rpm_exceeded         | 429    | key | org | key id / org id | requests counted this minute | requests per minute       |
 * | tpm_exceeded         | 429    | key | org | key id / org id | tokens counted this minute   | tokens per minute         |
 * | state_unavailable    | 503    | state     | org id   | "unreachable"                    | "deny" (state.on_unavailable) |
 */
import { GatewayError } from '../errors/catalog.ts';

export type DenialCode = 'credits_exhausted' | 'model_not_in_plan' | 'provider_not_in_plan' | 'rpm_exceeded' | 'tpm_exceeded' | 'state_unavailable';

export interface DenialEnvelope {
  code: DenialCode;
  layer: 'org' | 'key' | 'state';
  key: string;
  current: string | number | string[];
  limit: string | number | string[];
  reason: string;
}

export class DenialError extends GatewayError {
  readonly envelope: DenialEnvelope;

  constructor(envelope: DenialEnvelope, retryAfterSeconds?: number) {
    super(envelope.code, envelope.reason, retryAfterSeconds === undefined ? {} : { headers: { 'retry-after': String(retryAfterSeconds) } });
    this.envelope = envelope;
  }
}

export function isDenial(err: unknown): err is DenialError {
  return err instanceof DenialError;
}
