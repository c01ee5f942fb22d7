/**
 * How a credential declares workload identity in the YAML, and the sentences a wrong declaration
 * gets (ajv with the schema's own messages, then the provider checks).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { loadConfig } from '../../../src/config/load.ts';
import { ConfigError } from '../../../src/config/problems.ts';
import { CATALOG_DIR } from '../../support/catalog.ts';

const dirs: string[] = [];
after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

function write(credentials: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'tollbooth-identity-config-'));
  dirs.push(dir);
  const file = join(dir, 'tollbooth.yaml');
  writeFileSync(file, `catalog: ${CATALOG_DIR}\nledger: { dir: ${join(dir, 'data')} }\ncredentials:\n${credentials}`);
  return file;
}

function problems(credentials: string): string {
  try {
    loadConfig(write(credentials));
  } catch (err) {
    if (err instanceof ConfigError) return err.message;
    throw err;
  }
  return assert.fail('expected the config to be rejected');
}

describe('workload identity in the config', () => {
  test('aws_workload_identity and azure_workload_identity load with their defaults filled', () => {
    const { config } = loadConfig(
      write(
        '  - { id: bedrock, provider: bedrock, billing: managed, region: eu-central-1, identity: { kind: aws_workload_identity } }\n' +
          '  - { id: bedrock-x, provider: bedrock, billing: managed, region: us-west-2, identity: { kind: aws_workload_identity, role_arn: "arn:aws:iam::123456789012:role/bedrock" } }\n' +
          '  - { id: azure, provider: azure, billing: managed, base_url: "https://r.openai.azure.com/openai", api_version: "2024-10-21", identity: { kind: azure_workload_identity } }\n',
      ),
    );
    const [bedrock, assumed, azure] = config.credentials;
    assert.deepEqual(bedrock!.identity, { kind: 'aws_workload_identity', role_arn: null, session_name: null });
    assert.equal(bedrock!.secret, null);
    assert.equal(assumed!.identity?.kind === 'aws_workload_identity' && assumed!.identity.role_arn, 'arn:aws:iam::123456789012:role/bedrock');
    assert.deepEqual(azure!.identity, {
      kind: 'azure_workload_identity',
      client_id: null,
      tenant_id: null,
      scope: 'https://cognitiveservices.azure.com/.default',
      disable_instance_discovery: false,
    });
  });

  test('an unknown kind names the two there are', () => {
    assert.match(problems('  - { id: b, provider: bedrock, billing: managed, region: us-east-1, identity: { kind: gcp } }\n'), /must be aws_workload_identity .* or azure_workload_identity/);
  });

  test('a secret beside an identity is refused', () => {
    assert.match(
      problems('  - { id: b, provider: bedrock, billing: managed, region: us-east-1, secret: { env: X }, identity: { kind: aws_workload_identity } }\n'),
      /secret.*must be left out when identity is set/,
    );
  });

  test('AWS identity needs a region, and a role ARN that is one', () => {
    assert.match(problems('  - { id: b, provider: bedrock, billing: managed, identity: { kind: aws_workload_identity } }\n'), /must name the AWS region|must set region/);
    assert.match(
      problems('  - { id: b, provider: bedrock, billing: managed, region: us-east-1, identity: { kind: aws_workload_identity, role_arn: bedrock-role } }\n'),
      /role_arn.*must be an IAM role ARN/,
    );
  });

  test('fields of the other kind are unknown fields', () => {
    assert.match(
      problems('  - { id: b, provider: bedrock, billing: managed, region: us-east-1, identity: { kind: aws_workload_identity, client_id: abc } }\n'),
      /identity\/client_id.*unknown field|client_id.*unknown field/,
    );
  });

  test('an identity on a provider it cannot serve is refused by name', () => {
    assert.match(problems('  - { id: o, provider: openai, billing: managed, identity: { kind: aws_workload_identity }, region: us-east-1 }\n'), /does not use AWS signatures/);
    assert.match(problems('  - { id: o, provider: bedrock, billing: managed, region: us-east-1, identity: { kind: azure_workload_identity } }\n'), /not an Azure provider/);
  });
});
