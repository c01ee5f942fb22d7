/**
 * Native passthrough forwards only the provider's `passthrough_paths`, matched on the path decoded
 * once: for every provider's every allow-list entry, a dot segment in any spelling (`..`, `%2e%2e`,
 * `.%2E`, `..%2f`, `..;`, full-width dots), a backslash (raw or `%5c`), a double encoding or an empty
 * segment is refused before anything reaches the upstream with the managed key, and an allowed path
 * reaches it exactly as the caller sent it (Bedrock's `%3A` and an ARN's `%2F` included).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { startBedrockGateway } from '../providers/bedrock/bedrock-gateway.ts';
import { loadTestCatalog } from '../support/catalog.ts';
import { FakeUpstream } from '../support/fake-upstream.ts';
import { CALLER_KEYS, type TestGateway } from '../support/gateway.ts';
import { rawHttp, rawRequest } from '../support/raw-http.ts';
import { after, before } from 'node:test';
import { realtimeDialect } from '../../src/realtime/dialects.ts';

const catalog = loadTestCatalog();
const providers = [...catalog.providers.values()].filter((p) => p.passthrough_paths.length > 0);

/** The base path the test gateway gives each provider's credential (gateway.ts). */
function basePath(baseUrl: string | null): string {
  return baseUrl === null ? '/v1' : new URL(baseUrl.replace('{region}', 'us-east-1')).pathname.replace(/\/$/, '');
}

/** A concrete path an allow-list entry admits (a wildcard filled in). */
function allowedPath(entry: string, provider: string): string {
  if (!entry.endsWith('/*')) return entry;
  const prefix = entry.slice(0, -2);
  if (provider === 'bedrock') return `${prefix}/anthropic.claude-3-haiku-20240307-v1%3A0/converse`;
  return `${prefix}/some-model`;
}

/** Ways out of an allowed prefix. `P` is the allowed path's parent, `T` a target outside the list. */
const ESCAPES = [
  '/../../T',
  '/..%2f..%2fT',
  '/..%2F..%2FT',
  '/%2e%2e/%2e%2e/T',
  '/%2E%2E%2F%2E%2E%2FT',
  '/.%2e/.%2e/T',
  '/%2e./T',
  '/./T',
  '/%2e/T',
  '/..\\..\\T',
  '/..%5c..%5cT',
  '/%5c..%5cT',
  '/%252e%252e%252fT',
  '/%252e%252e/T',
  '/..%252fT',
  '/..;/..;/T',
  '/%2e%2e;x/T',
  '/%EF%BC%8E%EF%BC%8E/T',
  '//T',
  '/x/%2e%2e%2f%2e%2e%2f%2e%2e%2fT',
  '/%00/T',
];

describe('passthrough path traversal, for every provider', () => {
  let fake: FakeUpstream;
  let gw: TestGateway;
  before(async () => {
    fake = await FakeUpstream.start();
    gw = await startBedrockGateway({ upstream: fake });
  });
  after(async () => {
    await gw.close();
    await fake.close();
  });

  const send = (target: string) =>
    rawRequest(gw.url, rawHttp('GET', target, { authorization: `Bearer ${CALLER_KEYS.member}`, 'x-api-key': CALLER_KEYS.member, 'x-goog-api-key': CALLER_KEYS.member }));

  for (const provider of providers) {
    test(`${provider.name}: every encoded way out of ${provider.passthrough_paths.join(', ')} is refused`, async () => {
      const base = basePath(provider.base_url);
      for (const entry of provider.passthrough_paths) {
        const allowed = base + allowedPath(entry, provider.name);
        const parent = allowed.slice(0, allowed.lastIndexOf('/'));
        for (const escape of ESCAPES) {
          for (const from of [allowed, parent]) {
            const target = `/${provider.name}${from}${escape.replace('T', 'admin/keys')}`;
            const seen = fake.requests.length;
            const answer = await send(target);
            assert.ok(answer.status === 400 || answer.status === 404, `${target} → ${answer.status} ${answer.body}`);
            const code = answer.json().error.code;
            assert.ok(['passthrough_path_invalid', 'passthrough_path_not_allowed', 'invalid_request_target'].includes(code), `${target}: ${code}`);
            assert.equal(fake.requests.length, seen, `${target} reached the upstream as ${fake.requests.at(-1)?.url}`);
          }
        }
      }
    });

    test(`${provider.name}: an allowed path reaches the upstream exactly as sent`, async () => {
      const base = basePath(provider.base_url);
      // Realtime sockets are listed for upgrades only (test/realtime/realtime-websocket.test.ts).
      for (const entry of provider.passthrough_paths.filter((p) => realtimeDialect(provider.api, p) === null)) {
        const path = base + allowedPath(entry, provider.name);
        const seen = fake.requests.length;
        await send(`/${provider.name}${path}?alt=sse`);
        assert.equal(fake.requests.length, seen + 1, `${path} was forwarded`);
        assert.equal(fake.last().url, `${path}?alt=sse`);
      }
    });
  }

  test('bedrock: an inference-profile ARN (its / sent as %2F, as the AWS SDK does) is forwarded as sent', async () => {
    const path = '/model/arn%3Aaws%3Abedrock%3Aus-east-1%3A123456789012%3Ainference-profile%2Fus.anthropic.claude-3-haiku-20240307-v1%3A0/converse';
    await send(`/bedrock${path}`);
    assert.equal(fake.last().url, path);
  });
});
