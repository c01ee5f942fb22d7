/**
 * Key verification for an org's credential connects only where the operator allows: the provider's
 * catalog base URL or a base URL the config names. Link-local and cloud metadata addresses are never
 * reached, loopback and private ones only through a base URL the operator named exactly, in every
 * spelling of the address; the name is resolved once and the connection goes to the checked address.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Secret } from '../../src/credentials/secret.ts';
import type { Credential } from '../../src/credentials/store.ts';
import { classifyAddress, type ResolvedAddress } from '../../src/credentials/verification-target.ts';
import { verifyCredential } from '../../src/credentials/verify.ts';
import { isGatewayError } from '../../src/errors/catalog.ts';
import { loadTestCatalog } from '../support/catalog.ts';
import { FakeUpstream } from '../support/fake-upstream.ts';
import { CALLER_KEYS, startTestGateway, type TestGateway } from '../support/gateway.ts';

const catalog = loadTestCatalog();

test('addresses are classified by what they mean, in every spelling', () => {
  const cases: [string, string][] = [
    ['169.254.169.254', 'metadata'],
    ['::ffff:169.254.169.254', 'metadata'],
    ['::ffff:a9fe:a9fe', 'metadata'],
    ['0:0:0:0:0:ffff:a9fe:a9fe', 'metadata'],
    ['::169.254.169.254', 'metadata'],
    ['64:ff9b::a9fe:a9fe', 'metadata'],
    ['2002:a9fe:a9fe::1', 'metadata'],
    ['fd00:ec2::254', 'metadata'],
    ['fe80::1', 'metadata'],
    ['[fe80::1]', 'metadata'],
    ['127.0.0.1', 'loopback'],
    ['127.1.2.3', 'loopback'],
    ['::1', 'loopback'],
    ['::ffff:127.0.0.1', 'loopback'],
    ['::ffff:7f00:1', 'loopback'],
    ['10.1.2.3', 'private'],
    ['172.16.0.1', 'private'],
    ['192.168.1.1', 'private'],
    ['100.100.100.200', 'private'],
    ['0.0.0.0', 'private'],
    ['::', 'private'],
    ['fd12:3456::1', 'private'],
    ['::ffff:10.0.0.1', 'private'],
    ['224.0.0.1', 'private'],
    ['not-an-address', 'private'],
    ['8.8.8.8', 'public'],
    ['2606:4700:4700::1111', 'public'],
    ['::ffff:8.8.8.8', 'public'],
  ];
  for (const [address, expected] of cases) assert.equal(classifyAddress(address), expected, address);
});

function orgCredential(provider: string, baseUrl: string | null): Credential {
  return { id: 'test-temporary', provider, billing: 'byok', secret: new Secret('sk-candidate-1234567890'), unavailable: null, baseUrl, region: null, apiVersion: null, source: 'api', org: 'acme', isDefault: false };
}

const neverSend = async () => {
  throw new Error('the operator path must not be used for an org credential');
};

async function refusedWith(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (err) {
    assert.ok(isGatewayError(err), String(err));
    assert.equal(err.code, 'verification_target_refused');
    assert.equal(err.status, 400);
    return err.message;
  }
  assert.fail('the verification was not refused');
}

describe('verification targets (the resolver under test control)', () => {
  let fake: FakeUpstream;
  before(async () => {
    fake = await FakeUpstream.start();
    fake.on('GET', '/v1/models', { json: { object: 'list', data: [] } });
  });
  after(() => fake.close());

  const openai = catalog.provider('openai')!;

  test('a base URL the operator did not name is refused before any lookup', async () => {
    let lookups = 0;
    const lookup = async () => {
      lookups++;
      return [{ address: '8.8.8.8', family: 4 as const }];
    };
    await refusedWith(verifyCredential(openai, orgCredential('openai', 'https://evil.example/v1'), neverSend, 2000, { operatorBaseUrls: [], lookup }));
    assert.equal(lookups, 0);
  });

  test('a wildcard entry admits only public addresses; one bad address among several refuses', async () => {
    const policy = (addresses: ResolvedAddress[]) => ({ operatorBaseUrls: ['https://*.corp.test/v1'], lookup: async () => addresses });
    const credential = orgCredential('openai', 'https://llm.corp.test/v1');
    await refusedWith(verifyCredential(openai, credential, neverSend, 2000, policy([{ address: '10.0.0.5', family: 4 }])));
    await refusedWith(verifyCredential(openai, credential, neverSend, 2000, policy([{ address: '93.184.216.34', family: 4 }, { address: '169.254.169.254', family: 4 }])));
    await refusedWith(verifyCredential(openai, credential, neverSend, 2000, policy([{ address: '::ffff:169.254.169.254', family: 6 }])));
    await refusedWith(verifyCredential(openai, orgCredential('openai', 'https://corp.test.evil.example/v1'), neverSend, 2000, policy([{ address: '93.184.216.34', family: 4 }])));
  });

  test('even a base URL the operator named exactly never reaches a metadata address', async () => {
    const message = await refusedWith(
      verifyCredential(openai, orgCredential('openai', 'http://metadata.internal.test/v1'), neverSend, 2000, {
        operatorBaseUrls: ['http://metadata.internal.test/v1'],
        lookup: async () => [{ address: 'fd00:ec2::254', family: 6 }],
      }),
    );
    assert.match(message, /metadata/);
  });

  test('the name is resolved once and the connection goes to the checked address (no rebinding)', async () => {
    const port = new URL(fake.url).port;
    const answers: ResolvedAddress[][] = [[{ address: '127.0.0.1', family: 4 }], [{ address: '169.254.169.254', family: 4 }]];
    let lookups = 0;
    const verdict = await verifyCredential(openai, orgCredential('openai', `http://rebind.test:${port}/v1`), neverSend, 5000, {
      operatorBaseUrls: [`http://rebind.test:${port}/v1`],
      lookup: async () => answers[lookups++]!,
    });
    assert.equal(verdict.result, 'valid');
    assert.equal(lookups, 1);
    assert.equal(fake.last().headers.host, `rebind.test:${port}`);
  });
});

describe('verification targets through the credential API', () => {
  let fake: FakeUpstream;
  let gw: TestGateway;
  let port: string;
  before(async () => {
    fake = await FakeUpstream.start();
    fake.on('GET', '/v1/models', { json: { object: 'list', data: [] } });
    port = new URL(fake.url).port;
    gw = await startTestGateway({
      upstream: fake,
      config: { credential_store: { allowed_base_urls: [`${fake.url}/allowed/v1`, 'https://169.254.169.254/v1'] } },
    });
  });
  after(async () => {
    await gw.close();
    await fake.close();
  });

  const testTemporary = async (provider: string, baseUrl: string) => {
    const res = await fetch(`${gw.opsUrl}/credentials/test-temporary`, {
      method: 'POST',
      headers: { authorization: `Bearer ${CALLER_KEYS.owner}`, 'x-organization-id': 'acme', 'content-type': 'application/json' },
      body: JSON.stringify({ provider_name: provider, auth_data: { api_key: 'sk-candidate-1234567890' }, base_url: baseUrl }),
    });
    return { status: res.status, body: (await res.json()) as any };
  };

  test('metadata, loopback and private targets in every spelling are refused, and nothing is sent', async () => {
    const seen = fake.requests.length;
    const spellings = [
      'https://169.254.169.254/v1',
      'https://[::ffff:169.254.169.254]/v1',
      'https://[::ffff:a9fe:a9fe]/v1',
      'https://[fd00:ec2::254]/v1',
      'https://2852039166/v1',
      'https://0xa9.0xfe.0xa9.0xfe/v1',
      'https://0251.0376.0251.0376/v1',
      'https://169.254.43518/v1',
      `https://127.0.0.1:${port}/v1`,
      `https://2130706433:${port}/v1`,
      `https://[::1]:${port}/v1`,
      `https://[::ffff:127.0.0.1]:${port}/v1`,
      `https://localhost:${port}/v1`,
      'https://10.0.0.1/v1',
      'https://192.168.0.1/v1',
      'https://[fd12::1]/v1',
    ];
    for (const provider of ['openai', 'openai-compatible']) {
      for (const url of spellings) {
        // Below /x: the test config's own credentials use these hosts' /v1 (the operator allows those).
        const target = url.replace('/v1', '/x/v1');
        const answer = await testTemporary(provider, provider === 'openai' ? target : target.replace('https:', 'http:'));
        assert.equal(answer.status, 400, `${provider} ${url}: ${JSON.stringify(answer.body)}`);
        assert.equal(typeof answer.body.detail, 'string');
      }
    }
    assert.equal(fake.requests.length, seen, 'no verification call was sent');
  });

  test('the exact base URL the operator allows is verified (loopback included); other names and paths are not', async () => {
    const ok = await testTemporary('openai-compatible', `${fake.url}/allowed/v1`);
    assert.equal(ok.status, 200, JSON.stringify(ok.body));
    assert.equal(fake.last().path, '/allowed/v1/models');
    // Another spelling of the same address is the same URL once parsed (2130706433 is 127.0.0.1).
    assert.equal((await testTemporary('openai-compatible', `http://2130706433:${port}/allowed/v1`)).status, 200);
    for (const other of [`http://localhost:${port}/allowed/v1`, `${fake.url}/allowed/v2`, `${fake.url}/allowed`]) {
      const seen = fake.requests.length;
      const answer = await testTemporary('openai-compatible', other);
      assert.equal(answer.status, 400, other);
      assert.match(answer.body.detail, /Key verification refused/);
      assert.equal(fake.requests.length, seen);
    }
  });
});
