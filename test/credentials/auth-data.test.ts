/**
 * An org credential's base_url can never aim the sidecar at a link-local or cloud metadata address,
 * in any spelling the URL parser accepts (IPv4-mapped and -compatible IPv6, NAT64, decimal, hex).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseCredentialInput } from '../../src/credentials/auth-data.ts';
import { loadTestCatalog } from '../support/catalog.ts';

const catalog = loadTestCatalog();
const create = (baseUrl: string) => () =>
  parseCredentialInput({ provider_name: 'openai-compatible', name: 'vllm', auth_data: { api_key: 'sk-x' }, base_url: baseUrl }, catalog, { nameRequired: true });

test('metadata addresses are refused in every spelling', () => {
  for (const url of [
    'http://169.254.169.254/v1',
    'http://[::ffff:169.254.169.254]/v1',
    'http://[::ffff:a9fe:a9fe]/v1',
    'http://[64:ff9b::a9fe:a9fe]/v1',
    'http://[fd00:ec2::254]/v1',
    'http://[fe80::1]/v1',
    'http://2852039166/v1',
    'http://0xa9fea9fe/v1',
    'http://0251.0376.0251.0376/v1',
    'http://metadata.google.internal./v1',
  ]) {
    assert.throws(create(url), /metadata/, url);
  }
});

test('a self-hosted server in the cluster is still allowed', () => {
  assert.equal(create('http://vllm.ml.svc:8000/v1')().baseUrl, 'http://vllm.ml.svc:8000/v1');
  assert.equal(create('http://10.0.4.7:8000/v1')().baseUrl, 'http://10.0.4.7:8000/v1');
});
