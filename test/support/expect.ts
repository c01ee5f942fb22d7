/** Expectations shared by the provider suites, computed independently of src/. */
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import type { ModelRecord } from '../../src/catalog/types.ts';

/** The seed's formula (RUN_CREDIT + tokens at catalog prices × 1.05 × 1000), in plain arithmetic; an unpriced model meters 0. */
export function expectedCredits(model: ModelRecord, prompt: number, completion: number): number {
  if (model.input_usd_per_1m === null || model.output_usd_per_1m === null) return 0;
  return 1 + ((prompt * model.input_usd_per_1m + completion * model.output_usd_per_1m) / 1e6) * 1.05 * 1000;
}

/** The APIError a call must fail with, for asserting its status, code and message. */
export async function apiError(promise: Promise<unknown>): Promise<InstanceType<typeof OpenAI.APIError>> {
  try {
    await promise;
  } catch (err) {
    if (err instanceof OpenAI.APIError) return err;
    throw err;
  }
  assert.fail('expected an API error');
}
