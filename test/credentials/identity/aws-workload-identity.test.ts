/**
 * Bedrock with AWS workload identity, end to end: a real sidecar (a child process: the AWS SDK's
 * credential chain reads its settings from the process environment) takes short-lived keys from a
 * fake STS (IRSA: AssumeRoleWithWebIdentity with the service account token file) or a fake EKS Pod
 * Identity agent (the container credentials endpoint), and the official
 * @aws-sdk/client-bedrock-runtime calls it. The fake Bedrock checks every SigV4 signature against
 * the keys the fake identity issued and refuses stale ones; keys expire within seconds, so the
 * sidecar rotates them while under load, with no failed request.
 */
import assert from 'node:assert/strict';
import { readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { BedrockRuntimeClient, ConverseCommand } from '@aws-sdk/client-bedrock-runtime';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { startChildGateway, type ChildGateway } from '../../support/child-gateway.ts';
import { FakeAwsIdentity } from '../../support/fake-aws-identity.ts';
import { FakeUpstream, type Reply, type SeenRequest } from '../../support/fake-upstream.ts';
import { fixtureJson } from '../../support/fixtures.ts';
import { CALLER_KEYS, ledgerCharges, writeTestConfig } from '../../support/gateway.ts';
import { verifySigV4 } from '../../providers/bedrock/bedrock-upstream.ts';
import { collectStdout, isolatedCloudEnv, underLoad } from './support.ts';

const MODEL_ID = 'us.anthropic.claude-haiku-4-5-20251001-v1:0';
const CONVERSE_PATH = '/model/us.anthropic.claude-haiku-4-5-20251001-v1%3A0/converse';
const RECORDING = 'bedrock/amazon-bedrock-text.json';
const ROLE_ARN = 'arn:aws:iam::123456789012:role/tollbooth-bedrock';
/** Short enough to rotate several times in a test; refreshed at half-life. */
const KEY_LIFETIME_MS = 3000;

/** SigV4's x-amz-date (YYYYMMDDTHHMMSSZ) as epoch ms. */
function amzDate(req: SeenRequest): number {
  const d = String(req.headers['x-amz-date'] ?? '');
  return Date.parse(`${d.slice(0, 4)}-${d.slice(4, 6)}-${d.slice(6, 8)}T${d.slice(9, 11)}:${d.slice(11, 13)}:${d.slice(13, 15)}Z`);
}

/**
 * The fake Bedrock: answers the recording only to a request signed with keys `identity` issued and
 * still current, with their session token; anything else is refused as Bedrock would (403).
 */
function bedrockSignedByIdentity(identity: FakeAwsIdentity, reply: Reply, seenKeys: string[]): (req: SeenRequest) => Promise<Reply> {
  return async (req) => {
    const id = /Credential=([A-Z0-9]+)\//.exec(String(req.headers.authorization ?? ''))?.[1];
    const keys = id === undefined ? undefined : identity.keys(id);
    let problem: string | null = null;
    if (!keys) problem = 'not signed with keys the identity issued';
    else if (req.headers['x-amz-security-token'] !== keys.sessionToken) problem = 'the session token is missing or not that of the keys';
    else if (!identity.isCurrent(keys, amzDate(req))) problem = `signed with stale keys (generation ${keys.generation} of ${identity.issued.length})`;
    else {
      const check = await verifySigV4(req, { accessKeyId: keys.accessKeyId, secretAccessKey: keys.secretAccessKey, region: 'us-east-1' });
      if (!check.ok) problem = check.reason;
    }
    if (problem !== null) {
      return { status: 403, headers: { 'x-amzn-ErrorType': 'InvalidSignatureException' }, json: { message: `fake Bedrock refused the signature: ${problem}` } };
    }
    seenKeys.push(keys!.accessKeyId);
    return reply;
  };
}

function bedrockClient(gateway: ChildGateway): BedrockRuntimeClient {
  return new BedrockRuntimeClient({
    region: 'us-east-1',
    endpoint: `${gateway.proxyUrl}/bedrock`,
    requestHandler: new NodeHttpHandler(),
    token: { token: CALLER_KEYS.member },
    authSchemePreference: ['httpBearerAuth'],
    maxAttempts: 1,
  });
}

const converse = (client: BedrockRuntimeClient) =>
  client.send(new ConverseCommand({ modelId: MODEL_ID, messages: [{ role: 'user', content: [{ text: 'How many r in strawberry?' }] }] }));

interface Setup {
  dir: string;
  /** The projected service account token (IRSA), as the kubelet writes it. */
  tokenFile: string;
  upstream: FakeUpstream;
  identity: FakeAwsIdentity;
  gateway: ChildGateway;
  client: BedrockRuntimeClient;
  logs: () => string;
  seenKeys: string[];
}

/** A fake identity, a fake Bedrock and a child sidecar whose bedrock credential is `identityConfig`. */
async function setUp(identityConfig: Record<string, unknown>, env: (s: { tokenFile: string; containerTokenFile: string; identity: FakeAwsIdentity }) => Record<string, string>): Promise<Setup> {
  const upstream = await FakeUpstream.start();
  const written = writeTestConfig({
    upstream,
    credentials: { bedrock: { secret: null, identity: identityConfig, region: 'us-east-1' } },
    config: { log: { level: 'debug' } },
  });
  const tokenFile = join(written.dir, 'eks.amazonaws.com-serviceaccount-token');
  writeFileSync(tokenFile, 'k8s-projected-sa-token-1');
  const containerTokenFile = join(written.dir, 'eks-pod-identity-token');
  writeFileSync(containerTokenFile, 'pod-identity-agent-token');
  const identity = await FakeAwsIdentity.start({
    lifetimeMs: KEY_LIFETIME_MS,
    webIdentityToken: () => readFileSync(tokenFile, 'utf8'),
    roleArn: ROLE_ARN,
    containerToken: 'pod-identity-agent-token',
  });
  const seenKeys: string[] = [];
  upstream.on('POST', CONVERSE_PATH, bedrockSignedByIdentity(identity, { json: fixtureJson(RECORDING) }, seenKeys));
  const gateway = await startChildGateway(written.file, { ...written.env, ...isolatedCloudEnv(written.dir), ...env({ tokenFile, containerTokenFile, identity }) });
  const logs = collectStdout(gateway);
  return { dir: written.dir, tokenFile, upstream, identity, gateway, client: bedrockClient(gateway), logs, seenKeys };
}

async function tearDown(s: Setup | undefined): Promise<void> {
  if (!s) return;
  s.client.destroy();
  await s.gateway.stop();
  await s.identity.close();
  await s.upstream.close();
  rmSync(s.dir, { recursive: true, force: true });
}

/** Every secret the fake identity issued, and the tokens it accepted. */
function issuedSecrets(s: Setup): string[] {
  return s.identity.issued.flatMap((k) => [k.secretAccessKey, k.sessionToken]).concat(['k8s-projected-sa-token', 'pod-identity-agent-token']);
}

function assertNoSecretIn(s: Setup, what: string, text: string): void {
  for (const secret of issuedSecrets(s)) assert.ok(!text.includes(secret), `${what} carries a secret (${secret.slice(0, 6)}…)`);
}

describe('Bedrock with IRSA (web identity token file → STS AssumeRoleWithWebIdentity)', () => {
  let s: Setup | undefined;
  before(async () => {
    s = await setUp({ kind: 'aws_workload_identity' }, ({ tokenFile, identity }) => ({
      AWS_WEB_IDENTITY_TOKEN_FILE: tokenFile,
      AWS_ROLE_ARN: ROLE_ARN,
      AWS_ROLE_SESSION_NAME: 'tollbooth-test',
      AWS_ENDPOINT_URL_STS: identity.url,
    }));
  });
  after(() => tearDown(s));

  test('Converse is signed with the keys STS issued for the pod’s token, session token included', async () => {
    const recording = fixtureJson(RECORDING);
    const response = await converse(s!.client);
    assert.equal(response.output?.message?.content?.[0]?.text, recording.output.message.content[0].text);
    assert.deepEqual(s!.identity.refusals, []);
    assert.ok(s!.identity.issued.length >= 1 && s!.identity.issued.every((k) => k.via === 'web-identity'));
    const seen = s!.upstream.last();
    assert.ok(!JSON.stringify(seen.headers).includes(CALLER_KEYS.member), 'the caller’s Tollbooth key never reaches Bedrock');
    assert.equal(s!.seenKeys.at(-1), s!.identity.issued.at(-1)!.accessKeyId);
  });

  test('keys that expire every few seconds rotate under load (and the token file with them): 0 failed requests, every signature current', { timeout: 120_000 }, async () => {
    const startGeneration = s!.identity.issued.length;
    const distinct = () => new Set(s!.seenKeys).size;
    const before = distinct();
    let rotatedFile = false;
    const result = await underLoad(
      4,
      async () => {
        await converse(s!.client);
        // Kubernetes rotates the projected token file too: STS then accepts only the new one.
        if (!rotatedFile && s!.identity.issued.length >= startGeneration + 2) {
          rotatedFile = true;
          const file = s!.tokenFile;
          writeFileSync(`${file}.new`, 'k8s-projected-sa-token-2');
          renameSync(`${file}.new`, file);
        }
      },
      () => s!.identity.issued.length >= startGeneration + 4 && distinct() >= before + 3,
    );
    assert.deepEqual(result.failures, [], 'no request failed while the keys rotated');
    assert.ok(result.ok > 0);
    assert.deepEqual(s!.identity.refusals, [], 'STS only ever saw the current service account token');
    assert.ok(distinct() >= before + 3, `requests were signed with ${distinct()} generations of keys`);
  });

  test('no issued key, session token or service account token appears in logs, metrics or the ledger', async () => {
    const metrics = await (await fetch(`${s!.gateway.opsUrl}/metrics`)).text();
    assertNoSecretIn(s!, 'the log', s!.logs() + s!.gateway.stderr());
    assertNoSecretIn(s!, '/metrics', metrics);
    const ledger = ledgerCharges(join(s!.dir, 'data'));
    assert.ok(ledger.length > 0, 'the calls were charged');
    assertNoSecretIn(s!, 'the ledger', JSON.stringify(ledger));
  });
});

describe('Bedrock with EKS Pod Identity (the container credentials endpoint and its authorization token file)', () => {
  let s: Setup | undefined;
  before(async () => {
    s = await setUp({ kind: 'aws_workload_identity' }, ({ containerTokenFile, identity }) => ({
      AWS_CONTAINER_CREDENTIALS_FULL_URI: `${identity.url}/v1/credentials`,
      AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE: containerTokenFile,
    }));
  });
  after(() => tearDown(s));

  test('Converse is signed with the agent’s keys, which rotate under load with 0 failed requests', { timeout: 120_000 }, async () => {
    const result = await underLoad(
      3,
      async () => void (await converse(s!.client)),
      () => new Set(s!.seenKeys).size >= 3,
    );
    assert.deepEqual(result.failures, []);
    assert.deepEqual(s!.identity.refusals, [], 'the agent always got its authorization token');
    assert.ok(s!.identity.issued.every((k) => k.via === 'container'));
    assert.ok(s!.seenKeys.every((id) => s!.identity.keys(id)?.via === 'container'));
  });
});

describe('Bedrock with role_arn: the chain’s keys (Pod Identity) assume the configured role', () => {
  const OTHER_ROLE = 'arn:aws:iam::210987654321:role/bedrock-in-another-account';
  let s: Setup | undefined;
  before(async () => {
    s = await setUp({ kind: 'aws_workload_identity', role_arn: OTHER_ROLE, session_name: 'tollbooth-sidecar' }, ({ containerTokenFile, identity }) => ({
      AWS_CONTAINER_CREDENTIALS_FULL_URI: `${identity.url}/v1/credentials`,
      AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE: containerTokenFile,
      AWS_ENDPOINT_URL_STS: identity.url,
    }));
  });
  after(() => tearDown(s));

  test('requests are signed with the assumed role’s keys, renewed as they expire', { timeout: 120_000 }, async () => {
    const result = await underLoad(
      2,
      async () => void (await converse(s!.client)),
      () => new Set(s!.seenKeys).size >= 2,
    );
    assert.deepEqual(result.failures, []);
    assert.deepEqual(s!.identity.refusals, [], 'AssumeRole was signed with current chain keys');
    assert.ok(s!.seenKeys.every((id) => s!.identity.keys(id)?.via === 'assume-role'), 'Bedrock saw only the role’s keys');
  });
});
