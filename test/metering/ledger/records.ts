/** Usage records for ledger tests: what the Meter hands the ledger, with the credits given. */
import type { UsageRecord } from '../../../src/metering/record.ts';

export function usageRecord(n: number, overrides: Partial<UsageRecord> = {}): UsageRecord {
  return {
    ts: new Date(Date.UTC(2026, 4, 14, 12, 0, n % 60)).toISOString(),
    request_id: `req-${n}`,
    org: 'acme',
    key_id: 'acme-app',
    api: 'unified',
    operation: 'chat',
    stream: false,
    requested_model: 'gpt-4.1-nano',
    model: 'gpt-4.1-nano',
    provider: 'openai',
    upstream_model: 'gpt-4.1-nano',
    credential: 'openai',
    billing: 'managed',
    status: 200,
    outcome: 'ok',
    prompt_tokens: 10 + n,
    completion_tokens: 20 + n,
    cached_tokens: 0,
    reasoning_tokens: 0,
    usage_source: 'reported',
    credits: '1.000001',
    unpriced: false,
    attempts: 1,
    duration_ms: 12.345,
    ttfb_ms: 3.5,
    ...overrides,
  };
}
