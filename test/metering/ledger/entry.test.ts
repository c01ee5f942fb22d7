import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, test } from 'node:test';
import { canonicalJson, checkLine, sealEntry } from '../../../src/metering/ledger/entry.ts';
import { usageRecord } from './records.ts';

describe('ledger line format', () => {
  const charge = {
    type: 'charge' as const,
    ...usageRecord(7, { key_id: null, ttfb_ms: null, requested_model: 'caf\u00e9 "quoted"\n' }),
    period: '2026-05',
    from_allowance: '0.5',
    from_wallet: '0.500001',
  };

  test('a charge line is the canonical JSON (keys sorted, no whitespace) with its sha256 as the last member', () => {
    const { entry, line } = sealEntry(charge, 42, 'b'.repeat(64));
    assert.ok(line.endsWith('"}\n'));
    const withoutHash = line.slice(0, line.lastIndexOf(',"hash":"')) + '}';
    const parsed = JSON.parse(withoutHash) as Record<string, unknown>;
    assert.deepEqual(Object.keys(parsed), Object.keys(parsed).sort(), 'members in sorted order');
    assert.equal(withoutHash, canonicalJson({ ...charge, seq: 42, prev_hash: 'b'.repeat(64) }));
    assert.equal(entry.hash, createHash('sha256').update(withoutHash).digest('hex'));
    assert.deepEqual(checkLine(line.slice(0, -1)), { ok: true, entry: JSON.parse(line) });
  });

  test('every field of the charge reaches the line', () => {
    const { line } = sealEntry(charge, 1, '0'.repeat(64));
    const parsed = JSON.parse(line) as Record<string, unknown>;
    for (const [key, value] of Object.entries(charge)) assert.deepEqual(parsed[key], value, key);
    assert.equal(Object.keys(parsed).length, Object.keys(charge).length + 3, 'plus seq, prev_hash and hash');
  });

  test('the shared-state fields, when present, take their sorted places too', () => {
    const shared = { ...charge, instance: 'pod-a-1f2e', settle_id: 'c0ffee', stream_id: '1700000000000-3', unsettled: true as const, over_hold: true as const };
    const { line } = sealEntry(shared, 9, 'c'.repeat(64));
    const withoutHash = line.slice(0, line.lastIndexOf(',"hash":"')) + '}';
    assert.equal(withoutHash, canonicalJson({ ...shared, seq: 9, prev_hash: 'c'.repeat(64) }));
    assert.equal(checkLine(line.slice(0, -1)).ok, true);
  });
});
