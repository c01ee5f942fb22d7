/**
 * Starts the real gateway (the same startGateway `tollbooth serve` uses) on 127.0.0.1:0 with a
 * config written to a temp dir: the real catalog, every provider's credential pointing at a fake
 * upstream, and a few caller keys.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before } from 'node:test';
import OpenAI from 'openai';
import { stringify } from 'yaml';
import { startGateway, type Gateway } from '../../src/gateway.ts';
import type { UsageRecord } from '../../src/metering/record.ts';
import type { Logger } from '../../src/util/log.ts';
import type { Catalog } from '../../src/catalog/catalog.ts';
import { FakeUpstream } from './fake-upstream.ts';
import { ledgerCharges } from './ledger.ts';
import { CATALOG_DIR, loadTestCatalog } from './catalog.ts';


/** Caller keys (Tollbooth keys) the test config knows, by name. */
export const CALLER_KEYS = {
  member: 'tb-test-member-key',
  owner: 'tb-test-owner-key',
  otherOrg: 'tb-test-globex-key',
  /** The platform team: grants credits to any org. */
  operator: 'tb-test-operator-key',
} as const;

/** What the fake upstream must see: the provider key Tollbooth injects, per provider. */
export function providerKey(provider: string): string {
  return `upstream-key-for-${provider}`;
}

const sha = (key: string) => `sha256:${createHash('sha256').update(key).digest('hex')}`;

export interface TestGateway {
  gateway: Gateway;
  url: string;
  opsUrl: string;
  dir: string;
  /** The official openai SDK pointed at the sidecar's unified API. */
  openai(key?: string, options?: Partial<ConstructorParameters<typeof OpenAI>[0]>): OpenAI;
  /** Usage records written so far (flushed first). */
  usage(): Promise<UsageRecord[]>;
  metrics(): Promise<string>;
  /** The catalog the gateway is running with (config-declared models included). */
  catalog(): Catalog;
  close(): Promise<void>;
}

export interface TestGatewayOptions {
  upstream: FakeUpstream;
  /** Top-level config fields to override (merged shallowly). */
  config?: Record<string, unknown>;
  /** Credential fields to override, by provider. */
  credentials?: Record<string, Record<string, unknown>>;
  env?: Record<string, string>;
  /** A logger to capture the sidecar's JSON log lines (the config's `log.level` is silent otherwise). */
  logger?: Logger;
}

/** The test config (real catalog, credentials aimed at the fake upstream) written to a new temp dir. */
export function writeTestConfig(options: Omit<TestGatewayOptions, 'logger'>): { dir: string; file: string; env: Record<string, string> } {
  const dir = mkdtempSync(join(tmpdir(), 'tollbooth-test-'));
  const providers = [...loadCatalogProviders()];
  const env: Record<string, string> = { ...options.env };
  const credentials = providers.map(([name, baseUrl]) => {
    const envName = `TB_TEST_${name.replace(/[^a-z0-9]/gi, '_').toUpperCase()}_KEY`;
    env[envName] = providerKey(name);
    const path = baseUrl === null ? '/v1' : new URL(baseUrl.replace('{region}', 'us-east-1')).pathname.replace(/\/$/, '');
    return {
      id: name,
      provider: name,
      billing: 'managed',
      secret: { env: envName },
      base_url: options.upstream.url + path,
      ...(name === 'bedrock' ? { region: 'us-east-1' } : {}),
      ...options.credentials?.[name],
    };
  });
  const { ledger, ...overrides } = options.config ?? {};
  const config = {
    listeners: { proxy: { host: '127.0.0.1', port: 0 }, ops: { host: '127.0.0.1', port: 0 } },
    catalog: CATALOG_DIR,
    // The compact line format (the default for new files), whatever the config schema's default is.
    ledger: { dir: join(dir, 'data'), format: 2, ...(ledger as Record<string, unknown> | undefined) },
    orgs: [{ id: 'acme', name: 'Acme' }, { id: 'globex', name: 'Globex' }],
    keys: [
      { id: 'acme-app', org: 'acme', role: 'member', hash: sha(CALLER_KEYS.member) },
      { id: 'acme-owner', org: 'acme', role: 'owner', hash: sha(CALLER_KEYS.owner) },
      { id: 'platform-operator', org: 'acme', role: 'operator', hash: sha(CALLER_KEYS.operator) },
      { id: 'globex-app', org: 'globex', role: 'member', hash: sha(CALLER_KEYS.otherOrg) },
    ],
    credentials,
    log: { level: 'silent' },
    ...overrides,
  };
  const file = join(dir, 'tollbooth.yaml');
  writeFileSync(file, stringify(config));
  return { dir, file, env };
}

export async function startTestGateway(options: TestGatewayOptions): Promise<TestGateway> {
  const { dir, file, env } = writeTestConfig(options);
  const gateway = await startGateway(file, { env, ...(options.logger ? { logger: options.logger } : {}) });
  return {
    gateway,
    url: gateway.proxyUrl,
    opsUrl: gateway.opsUrl,
    dir,
    openai: (key = CALLER_KEYS.member, extra = {}) => new OpenAI({ apiKey: key, baseURL: `${gateway.proxyUrl}/v1`, maxRetries: 0, ...extra }),
    async usage() {
      await gateway.recorder.flush();
      return ledgerCharges(join(dir, 'data'));
    },
    catalog: () => gateway.services.runtime.current.catalog,
    async metrics() {
      return (await fetch(`${gateway.opsUrl}/metrics`)).text();
    },
    async close() {
      await gateway.close(1000);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The ledger's charge entries (every line format), as the UsageRecords they carry. */
export { ledgerCharges };

/** Provider name → catalog base URL. */
function loadCatalogProviders(): Map<string, string | null> {
  return new Map([...loadTestCatalog().providers.values()].map((p) => [p.name, p.base_url]));
}

/**
 * A fake upstream and a gateway for the enclosing suite, started before its tests and stopped
 * after; `bind` receives them for the tests to use.
 */
export function useGateway(bind: (upstream: FakeUpstream, gw: TestGateway) => void, options: Omit<TestGatewayOptions, 'upstream'> = {}): void {
  let upstream: FakeUpstream | undefined;
  let gw: TestGateway | undefined;
  before(async () => {
    upstream = await FakeUpstream.start();
    gw = await startTestGateway({ ...options, upstream });
    bind(upstream, gw);
  });
  after(async () => {
    await gw?.close();
    await upstream?.close();
  });
}
