/**
 * Starts the real gateway on the config named by argv[2], prints which @opentelemetry packages the
 * process has loaded as one JSON line, and stops. (CommonJS packages imported from ES modules are
 * in require.cache too, which is what makes this visible.)
 */
import { createRequire } from 'node:module';
import { startGateway } from '../../src/gateway.ts';

const gateway = await startGateway(process.argv[2]!, { env: process.env });
const require = createRequire(import.meta.url);
const packages = new Set(
  Object.keys(require.cache)
    .map((path) => /node_modules\/(@opentelemetry\/[^/]+)\//.exec(path)?.[1])
    .filter((name) => name !== undefined),
);
process.stdout.write(`${JSON.stringify([...packages].sort())}\n`);
await gateway.close(0);
