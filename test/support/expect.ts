/** Expectations shared by the provider suites, computed independently of src/. */
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import type { ModelRecord } from '../../src/catalog/types.ts';

/** Token counts inside the two totals, and what picks the price set (all optional). */
export interface ExpectedClasses {
  cached?: number;
  cacheWrite5m?: number;
  cacheWrite1h?: number;
  reasoning?: number;
  audioInput?: number;
  imageInput?: number;
  audioOutput?: number;
  imageOutput?: number;
  /** The service tier the provider reported serving. */
  serviceTier?: string;
  /** When the request started (the price in force then applies); now by default. */
  at?: Date;
}

/**
 * The price set that applies, by the rule: the set in force at `at` (a date is its UTC midnight), the
 * served service tier when the model lists it, then the context tier whose threshold the input
 * (cache included) is strictly above. Null when that set has no input/output price.
 */
export function priceSetFor(model: ModelRecord, prompt: number, classes: Pick<ExpectedClasses, 'serviceTier' | 'at'> = {}): any {
  const at = (classes.at ?? new Date()).getTime();
  let set: any = model;
  for (const change of model.price_changes ?? []) {
    const from = Date.parse(/^\d{4}-\d{2}-\d{2}$/.test(change.effective_from) ? `${change.effective_from}T00:00:00Z` : change.effective_from);
    if (from <= at) set = change;
  }
  if (set.input_usd_per_1m === null || set.output_usd_per_1m === null) return null;
  if (classes.serviceTier && set.service_tiers?.[classes.serviceTier]) set = set.service_tiers[classes.serviceTier];
  const tiers = [...(set.context_tiers ?? [])].sort((a: any, b: any) => b.above_input_tokens - a.above_input_tokens);
  return tiers.find((tier: any) => prompt > tier.above_input_tokens) ?? set;
}

/**
 * The money rule in plain arithmetic, written from the README, not from src/: RUN_CREDIT + each
 * token class at its rate (a class without its own rate takes the input or output rate) × 1.05 ×
 * 1000, at the price set in force at `at`, the served service tier, and the context tier the input
 * (cache included) is strictly above. An unpriced model meters its tokens at 0 but a turn still
 * costs the run credit.
 */
export function expectedCredits(model: ModelRecord, prompt: number, completion: number, classes: ExpectedClasses = {}): number {
  if (prompt + completion === 0) return 0;
  const set = priceSetFor(model, prompt, classes);
  if (set === null) return 1;
  const rate = (field: string, fallback: 'input' | 'output') => set[`${field}_usd_per_1m`] ?? set[`${fallback}_usd_per_1m`];
  const inputParts: [string, number][] = [
    ['cache_read', classes.cached ?? 0],
    ['cache_write_5m', classes.cacheWrite5m ?? 0],
    ['cache_write_1h', classes.cacheWrite1h ?? 0],
    ['audio_input', classes.audioInput ?? 0],
    ['image_input', classes.imageInput ?? 0],
  ];
  const outputParts: [string, number][] = [
    ['reasoning', classes.reasoning ?? 0],
    ['audio_output', classes.audioOutput ?? 0],
    ['image_output', classes.imageOutput ?? 0],
  ];
  const plainInput = prompt - inputParts.reduce((sum, [, n]) => sum + n, 0);
  const plainOutput = completion - outputParts.reduce((sum, [, n]) => sum + n, 0);
  const usd =
    plainInput * set.input_usd_per_1m +
    plainOutput * set.output_usd_per_1m +
    inputParts.reduce((sum, [cls, n]) => sum + n * rate(cls, 'input'), 0) +
    outputParts.reduce((sum, [cls, n]) => sum + n * rate(cls, 'output'), 0);
  return 1 + (usd / 1e6) * 1.05 * 1000;
}

/** A charge with reported usage and the credits the rule gives for it (a tolerance far below any price step). */
export function assertReportedCharge(record: { prompt_tokens: number; completion_tokens: number; usage_source: string; credits: string }, model: ModelRecord, prompt: number, completion: number, classes: ExpectedClasses = {}): void {
  assert.equal(record.prompt_tokens, prompt);
  assert.equal(record.completion_tokens, completion);
  assert.equal(record.usage_source, 'reported');
  const expected = expectedCredits(model, prompt, completion, classes);
  assert.ok(Math.abs(Number(record.credits) - expected) < 1e-9, `credits ${record.credits}, expected ${expected}`);
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
