/**
 * SigV4 signing of outbound Bedrock requests. The reference is the AWS SDK itself: the official
 * BedrockRuntimeClient signs a Converse request to a capturing server, and Tollbooth's signer,
 * given the same request (method, path as sent, the headers the SDK signed, body) and the same
 * date, must produce the very same Authorization header — path encoding of `:` as `%3A` included.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { BedrockRuntimeClient, ConverseCommand } from '@aws-sdk/client-bedrock-runtime';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { parseAwsCredential } from '../../src/credentials/aws/credential-string.ts';
import { signAwsSigV4 } from '../../src/credentials/aws/sigv4.ts';
import { Secret } from '../../src/credentials/secret.ts';
import type { Credential } from '../../src/credentials/store.ts';
import { GatewayError } from '../../src/errors/catalog.ts';
import { createBedrockAdapter } from '../../src/providers/bedrock/adapter.ts';
import { baseUrlFor, type Target } from '../../src/routing/target.ts';
import type { OutboundRequest } from '../../src/upstream/transport.ts';
import { loadTestCatalog } from '../support/catalog.ts';
import { fixtureJson } from '../support/fixtures.ts';
import { TEST_AWS, TEST_AWS_CREDENTIAL_STRING, verifySigV4 } from '../providers/bedrock/bedrock-upstream.ts';

const SESSION_TOKEN = ['session', 'token', 'for', 'tests'].join('-');

interface Captured {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

function target(secret: string, region: string | null = null, upstreamModel = 'anthropic.claude-3-5-sonnet-20240620-v1:0'): Target {
  const credential: Credential = {
    id: 'bedrock-test',
    provider: 'bedrock',
    billing: 'managed',
    secret: new Secret(secret),
    unavailable: null,
    baseUrl: null,
    region,
    apiVersion: null,
    source: 'test',
    org: null,
    isDefault: true,
  };
  return { provider: loadTestCatalog().provider('bedrock')!, model: null, upstreamModel, credential, baseUrl: 'https://bedrock-runtime.us-east-1.amazonaws.com', weight: 1 };
}

function signingDateOf(amzDate: string): Date {
  return new Date(`${amzDate.slice(0, 4)}-${amzDate.slice(4, 6)}-${amzDate.slice(6, 8)}T${amzDate.slice(9, 11)}:${amzDate.slice(11, 13)}:${amzDate.slice(13, 15)}Z`);
}

describe('credential string access_key::secret::region[::session_token]', () => {
  test('parses the three- and four-part forms', () => {
    assert.deepEqual(parseAwsCredential(TEST_AWS_CREDENTIAL_STRING), { accessKeyId: TEST_AWS.accessKeyId, secretAccessKey: TEST_AWS.secretAccessKey, region: 'us-east-1' });
    assert.deepEqual(parseAwsCredential(`${TEST_AWS.accessKeyId}::${TEST_AWS.secretAccessKey}::eu-west-3::${SESSION_TOKEN}`), {
      accessKeyId: TEST_AWS.accessKeyId,
      secretAccessKey: TEST_AWS.secretAccessKey,
      region: 'eu-west-3',
      sessionToken: SESSION_TOKEN,
    });
    assert.equal((parseAwsCredential(`${TEST_AWS.accessKeyId}::${TEST_AWS.secretAccessKey}`) as { region: unknown }).region, null);
  });

  test('a malformed string is refused without quoting it', () => {
    for (const bad of ['just-one-api-key', `${TEST_AWS.accessKeyId}::::us-east-1`, `${TEST_AWS.accessKeyId}::${TEST_AWS.secretAccessKey}::not a region`]) {
      const parsed = parseAwsCredential(bad);
      assert.ok('invalid' in parsed, bad);
      assert.ok(!parsed.invalid.includes(TEST_AWS.secretAccessKey) && !parsed.invalid.includes('just-one-api-key'), 'the reason never quotes the secret');
    }
  });
});

describe('SigV4 signer against the AWS SDK’s own signature', () => {
  let server: ReturnType<typeof createServer>;
  let url = '';
  const captured: Captured[] = [];

  before(async () => {
    server = createServer(async (req, res) => {
      const chunks: Buffer[] = [];
      for await (const c of req) chunks.push(c as Buffer);
      captured.push({ method: req.method!, url: req.url!, headers: req.headers, body: Buffer.concat(chunks) });
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(fixtureJson('bedrock/amazon-bedrock-text.json')));
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => new Promise<void>((resolve) => server.close(() => resolve())));

  async function sdkRequest(modelId: string, sessionToken?: string): Promise<Captured> {
    const client = new BedrockRuntimeClient({
      region: TEST_AWS.region,
      endpoint: url,
      credentials: { accessKeyId: TEST_AWS.accessKeyId, secretAccessKey: TEST_AWS.secretAccessKey, ...(sessionToken ? { sessionToken } : {}) },
      requestHandler: new NodeHttpHandler(),
      maxAttempts: 1,
    });
    try {
      await client.send(new ConverseCommand({ modelId, messages: [{ role: 'user', content: [{ text: 'How many r in strawberry?' }] }] }));
    } finally {
      client.destroy();
    }
    return captured.at(-1)!;
  }

  /** Tollbooth's signer over the same request: the headers the SDK signed, minus the signature's own. */
  async function tollboothAuthorization(sdk: Captured, secret: string): Promise<string> {
    const signedNames = /SignedHeaders=([^,]+)/.exec(String(sdk.headers.authorization))![1]!.split(';');
    const headers: Record<string, string> = {};
    for (const name of signedNames) {
      if (['host', 'x-amz-date', 'x-amz-content-sha256', 'x-amz-security-token'].includes(name)) continue;
      headers[name] = String(sdk.headers[name]);
    }
    const req: OutboundRequest = { method: 'POST', url: url + sdk.url, headers, body: sdk.body };
    await signAwsSigV4(target(secret), req, signingDateOf(String(sdk.headers['x-amz-date'])));
    return req.headers.authorization!;
  }

  const MODEL_IDS = [
    'anthropic.claude-3-5-sonnet-20240620-v1:0',
    'us.anthropic.claude-haiku-4-5-20251001-v1:0',
    'arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude-sonnet-4-6',
  ];

  for (const modelId of MODEL_IDS) {
    test(`${modelId}: the adapter's path is the SDK's, and the signatures are identical`, async () => {
      const sdk = await sdkRequest(modelId);
      const adapterPath = createBedrockAdapter(target(TEST_AWS_CREDENTIAL_STRING, null, modelId)).request('chat', {
        model: 'x',
        messages: [{ role: 'user', content: 'hi' }],
      }).path;
      assert.equal(adapterPath, sdk.url, 'model id encoded exactly as the SDK encodes it');
      assert.ok(sdk.url.includes('%3A') && !sdk.url.includes(':'), 'the colon travels as %3A');
      assert.equal(await tollboothAuthorization(sdk, TEST_AWS_CREDENTIAL_STRING), sdk.headers.authorization);
    });
  }

  test('with a session token: x-amz-security-token is sent and signed, as the SDK does', async () => {
    const sdk = await sdkRequest(MODEL_IDS[0]!, SESSION_TOKEN);
    assert.equal(sdk.headers['x-amz-security-token'], SESSION_TOKEN);
    const secret = `${TEST_AWS.accessKeyId}::${TEST_AWS.secretAccessKey}::${TEST_AWS.region}::${SESSION_TOKEN}`;
    assert.equal(await tollboothAuthorization(sdk, secret), sdk.headers.authorization);
  });
});

describe('SigV4 signer on the outbound request', () => {
  const body = JSON.stringify({ messages: [{ role: 'user', content: [{ text: 'hi' }] }] });

  test("a caller's own signing headers are replaced, and the result verifies with the managed key", async () => {
    const req: OutboundRequest = {
      method: 'POST',
      url: 'http://127.0.0.1:9/model/anthropic.claude-3-5-sonnet-20240620-v1%3A0/converse',
      headers: {
        'content-type': 'application/json',
        Authorization: 'AWS4-HMAC-SHA256 Credential=CALLER/20200101/us-east-1/bedrock/aws4_request, SignedHeaders=host, Signature=00',
        'X-Amz-Date': '20200101T000000Z',
        'x-amz-security-token': 'caller-session',
        'x-amz-content-sha256': '0'.repeat(64),
        host: 'attacker.example',
      },
      body,
    };
    await signAwsSigV4(target(TEST_AWS_CREDENTIAL_STRING), req);
    assert.deepEqual(Object.keys(req.headers).filter((h) => /^(authorization|x-amz-date|host)$/i.test(h)).sort(), ['authorization', 'host', 'x-amz-date']);
    assert.equal(req.headers.host, '127.0.0.1:9');
    assert.equal(req.headers['x-amz-security-token'], undefined, 'no session token in the managed credential: none is sent');
    const seen = {
      method: 'POST',
      url: '/model/anthropic.claude-3-5-sonnet-20240620-v1%3A0/converse',
      path: '/model/anthropic.claude-3-5-sonnet-20240620-v1%3A0/converse',
      headers: req.headers,
      body: Buffer.from(body),
      json: () => JSON.parse(body),
    };
    assert.deepEqual(await verifySigV4(seen), { ok: true });
    assert.equal((await verifySigV4({ ...seen, body: Buffer.from(body.replace('hi', 'ho')) })).ok, false, 'a changed body no longer verifies');
  });

  test('the region comes from the credential string, else from the credential record', async () => {
    const req = (): OutboundRequest => ({ method: 'POST', url: 'https://bedrock-runtime.eu-west-3.amazonaws.com/model/m/converse', headers: {}, body });
    const fromString = req();
    await signAwsSigV4(target(`${TEST_AWS.accessKeyId}::${TEST_AWS.secretAccessKey}::eu-west-3`, 'us-west-2'), fromString);
    assert.match(fromString.headers.authorization!, /\/eu-west-3\/bedrock\/aws4_request/);
    const fromRecord = req();
    await signAwsSigV4(target(`${TEST_AWS.accessKeyId}::${TEST_AWS.secretAccessKey}`, 'us-west-2'), fromRecord);
    assert.match(fromRecord.headers.authorization!, /\/us-west-2\/bedrock\/aws4_request/);
  });

  test('the endpoint takes the same region: the string’s, else the record’s; a malformed string has none', () => {
    const bedrock = loadTestCatalog().provider('bedrock')!;
    const fromString = target(`${TEST_AWS.accessKeyId}::${TEST_AWS.secretAccessKey}::eu-west-3`, 'us-west-2').credential;
    assert.deepEqual(baseUrlFor(bedrock, fromString), { url: 'https://bedrock-runtime.eu-west-3.amazonaws.com' });
    const fromRecord = target(`${TEST_AWS.accessKeyId}::${TEST_AWS.secretAccessKey}`, 'us-west-2').credential;
    assert.deepEqual(baseUrlFor(bedrock, fromRecord), { url: 'https://bedrock-runtime.us-west-2.amazonaws.com' });
    const malformed = baseUrlFor(bedrock, target('sk-not-an-aws-credential', 'us-west-2').credential);
    assert.ok('missing' in malformed && !malformed.missing.includes('sk-not-an-aws-credential'));
  });

  test('a malformed credential string is a clear 503, never a leaked secret', async () => {
    const req: OutboundRequest = { method: 'POST', url: 'https://bedrock-runtime.us-east-1.amazonaws.com/model/m/converse', headers: {}, body };
    await assert.rejects(signAwsSigV4(target('sk-not-an-aws-credential'), req), (err: unknown) => {
      assert.ok(err instanceof GatewayError);
      assert.equal(err.code, 'credential_unavailable');
      assert.ok(!err.message.includes('sk-not-an-aws-credential'));
      return true;
    });
  });
});
