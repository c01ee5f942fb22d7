/**
 * Plans, wallets and limits in the YAML: validated when the config loads (each problem names its
 * place), credit amounts kept exact.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, test } from 'node:test';
import { stringify } from 'yaml';
import { planOf } from '../../src/admission/plans.ts';
import { loadConfig } from '../../src/config/load.ts';
import { ConfigError } from '../../src/config/problems.ts';
import { CATALOG_DIR } from '../support/catalog.ts';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'tollbooth-plan-config-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function load(config: Record<string, unknown>) {
  const file = join(dir, 'tollbooth.yaml');
  writeFileSync(file, stringify({ catalog: CATALOG_DIR, ...config }));
  return loadConfig(file);
}

function problems(config: Record<string, unknown>): string[] {
  try {
    load(config);
  } catch (err) {
    assert.ok(err instanceof ConfigError);
    return err.problems.map((p) => `${p.path}: ${p.message}`);
  }
  return [];
}

describe('plan configuration', () => {
  test('a valid plan: exact allowance, allow-lists and per-minute limits; defaults filled', () => {
    const { config } = load({
      plans: {
        team: {
          allowance: { credits: '1000.000000000001', period: 'monthly' },
          models: ['gpt-6-luna'],
          limits: { per_key: { rpm: 60 } },
        },
      },
      orgs: [{ id: 'acme', plan: 'team', wallet: { grants: [{ id: 'welcome', credits: 250 }] } }, { id: 'solo' }],
    });
    const plan = planOf(config, 'acme')!;
    assert.equal(plan.allowance!.pico, 1000n * 10n ** 12n + 1n);
    assert.equal(plan.allowance!.period, 'monthly');
    assert.deepEqual([...plan.models!], ['gpt-6-luna']);
    assert.equal(plan.providers, null);
    assert.deepEqual(plan.perKey.rpm, { capacity: 60, perSecond: 1 });
    assert.equal(plan.perKey.tpm, null);
    assert.deepEqual(plan.perOrg, { rpm: null, tpm: null });
    assert.equal(planOf(config, 'solo'), null, 'an org without a plan is not limited');
    assert.deepEqual(config.orgs[1]!.wallet, { grants: [] });
    assert.equal(config.ledger.max_file_bytes, 64 * 1024 * 1024);
    assert.equal(config.ledger.commit_window_ms, 2);
  });

  test('a credit amount with more than 12 decimals is refused where it is written', () => {
    assert.deepEqual(problems({ plans: { team: { allowance: { credits: '1.0000000000001', period: 'daily' } } } }), [
      '/plans/team/allowance/credits: must be a credit amount ≥ 0: a decimal string such as "1000" or "12.5" (at most 12 decimals)',
    ]);
  });

  test('problems name their place: unknown plan, model, provider; inexact or repeated grants', () => {
    const found = problems({
      plans: { team: { models: ['no-such-model'], providers: ['no-such-provider'] } },
      orgs: [
        { id: 'acme', plan: 'enterprise' },
        { id: 'globex', wallet: { grants: [{ id: 'a', credits: '5' }, { id: 'a', credits: '6' }, { id: 'b', credits: 1e21 }] } },
      ],
    });
    assert.deepEqual(found.sort(), [
      "/orgs/0/plan: plan 'enterprise' is not declared under plans",
      '/orgs/1/wallet/grants/1/id: grant id is declared twice for this org',
      '/orgs/1/wallet/grants/2/credits: must be an exact credit amount: a decimal string such as "1000" or "12.5" (at most 12 decimals)',
      "/plans/team/models/0: unknown model 'no-such-model'",
      "/plans/team/providers/0: unknown provider 'no-such-provider'",
    ]);
  });
});
