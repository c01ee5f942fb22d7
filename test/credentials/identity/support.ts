/** What the workload identity tests share: a child gateway's environment, its output, a load loop. */
import { join } from 'node:path';
import type { ChildGateway } from '../../support/child-gateway.ts';

/**
 * Child environment settings that keep the machine's own cloud identity out of the test: no AWS
 * keys or profile from the environment, no shared config files, no instance metadata, no Azure
 * settings but those the test gives.
 */
export function isolatedCloudEnv(dir: string): Record<string, string> {
  return {
    AWS_ACCESS_KEY_ID: '',
    AWS_SECRET_ACCESS_KEY: '',
    AWS_SESSION_TOKEN: '',
    AWS_PROFILE: '',
    AWS_CONFIG_FILE: join(dir, 'no-aws-config'),
    AWS_SHARED_CREDENTIALS_FILE: join(dir, 'no-aws-credentials'),
    AWS_EC2_METADATA_DISABLED: 'true',
    AWS_WEB_IDENTITY_TOKEN_FILE: '',
    AWS_ROLE_ARN: '',
    AWS_CONTAINER_CREDENTIALS_FULL_URI: '',
    AWS_CONTAINER_CREDENTIALS_RELATIVE_URI: '',
    AWS_CONTAINER_AUTHORIZATION_TOKEN: '',
    AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE: '',
    AWS_REGION: 'us-east-1',
    AZURE_FEDERATED_TOKEN_FILE: '',
    AZURE_CLIENT_ID: '',
    AZURE_TENANT_ID: '',
    AZURE_AUTHORITY_HOST: '',
  };
}

/** Everything the child writes on stdout after its first line (its logs), collected from now on. */
export function collectStdout(child: ChildGateway): () => string {
  let out = '';
  child.child.stdout!.on('data', (chunk: Buffer) => (out += chunk.toString()));
  return () => out;
}

export interface LoadResult {
  ok: number;
  failures: string[];
}

/**
 * Runs `one` from `workers` concurrent loops until `done()` holds (checked after every request), or
 * a failure happens: a rotation test waits on what happened, never on the clock.
 */
export async function underLoad(workers: number, one: () => Promise<void>, done: () => boolean): Promise<LoadResult> {
  const result: LoadResult = { ok: 0, failures: [] };
  const loop = async () => {
    while (!done() && result.failures.length === 0) {
      try {
        await one();
        result.ok += 1;
      } catch (err) {
        result.failures.push(String((err as Error)?.message ?? err));
      }
    }
  };
  await Promise.all(Array.from({ length: workers }, loop));
  return result;
}
