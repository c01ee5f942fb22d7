/**
 * `tollbooth ledger summary`: balances per org and totals by org, model, provider or day, read from
 * the ledger files alone, credits exact (sums that floats would round: 0.1 + 0.2 credits is 0.3).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { runLedgerCommand } from '../../../src/cli/ledger.ts';
import { PICO_PER_CREDIT } from '../../../src/metering/credits.ts';
import { Ledger } from '../../../src/metering/ledger/ledger.ts';
import { usageRecord } from './records.ts';

let dir: string;
before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tollbooth-summary-'));
  const ledger = await Ledger.open({ dir, allowanceOf: (org) => (org === 'acme' ? { pico: PICO_PER_CREDIT / 10n, period: 'daily' } : null) });
  ledger.grant({ org: 'acme', pico: 5n * PICO_PER_CREDIT, kind: 'grant', grantId: 'g1', source: 'config', by: null, note: '' });
  ledger.record(usageRecord(1, { credits: '0.1', ts: '2026-05-14T10:00:00.000Z' }));
  ledger.record(usageRecord(2, { credits: '0.2', ts: '2026-05-14T11:00:00.000Z', model: 'claude-sonnet-4.6', provider: 'anthropic' }));
  ledger.record(usageRecord(3, { credits: '0', billing: 'byok', ts: '2026-05-15T09:00:00.000Z', prompt_tokens: 7, completion_tokens: 9 }));
  ledger.record(usageRecord(4, { org: 'globex', credits: '1.000000000001', ts: '2026-05-15T09:30:00.000Z' }));
  await ledger.close();
});
after(() => rmSync(dir, { recursive: true, force: true }));

async function run(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await runLedgerCommand(args, '/nonexistent.yaml', { out: (s) => (out += s), err: (s) => (err += s) });
  return { code, out, err };
}

describe('ledger summary', () => {
  test('--by org --json: exact totals and wallets (allowance first, then wallet)', async () => {
    const { code, out } = await run(['summary', '--dir', dir, '--by', 'org', '--json']);
    assert.equal(code, 0);
    const s = JSON.parse(out);
    assert.equal(s.entries, 6, 'a grant, 4 charges and the checkpoint written at close');
    assert.equal(s.total_credits, '1.300000000001');
    assert.deepEqual(s.groups, [
      // Hand-made charges carry no bill stamp: their credits show as `unstamped`.
      { key: 'acme', requests: 3, prompt_tokens: 11 + 12 + 7, completion_tokens: 21 + 22 + 9, credits: '0.3', byok_requests: 1, credits_by_class: { unstamped: '0.3' } },
      { key: 'globex', requests: 1, prompt_tokens: 14, completion_tokens: 24, credits: '1.000000000001', byok_requests: 0, credits_by_class: { unstamped: '1.000000000001' } },
    ]);
    assert.deepEqual(s.wallets, [
      { org: 'acme', granted: '5', charged: '0.3', from_allowance: '0.1', from_wallet: '0.2', wallet: '4.8' },
      { org: 'globex', granted: '0', charged: '1.000000000001', from_allowance: '0', from_wallet: '1.000000000001', wallet: '-1.000000000001' },
    ]);
  });

  test('--by day and --by provider, as a table', async () => {
    const byDay = await run(['summary', '--dir', dir, '--by', 'day']);
    assert.equal(byDay.code, 0);
    assert.match(byDay.out, /^2026-05-14\s+2\s+0\s+23\s+43\s+0\.3$/m);
    assert.match(byDay.out, /^2026-05-15\s+2\s+1\s+21\s+33\s+1\.000000000001$/m);
    assert.match(byDay.out, /^total credits charged: 1\.300000000001$/m);
    const byProvider = await run(['summary', '--dir', dir, '--by', 'provider', '--json']);
    assert.deepEqual(
      JSON.parse(byProvider.out).groups.map((g: { key: string; credits: string }) => [g.key, g.credits]),
      [
        ['anthropic', '0.2'],
        ['openai', '1.100000000001'],
      ],
    );
  });

  test('an unknown --by is a usage error', async () => {
    const { code, err } = await run(['summary', '--dir', dir, '--by', 'week']);
    assert.equal(code, 2);
    assert.match(err, /--by must be org, model, provider or day/);
  });
});
