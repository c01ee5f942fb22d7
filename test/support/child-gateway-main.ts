/**
 * A gateway in a process of its own (for tests that need several replicas or a kill -9): the real
 * startGateway on the config file named by argv[2]. Prints one JSON line with its URLs once it
 * listens; SIGTERM drains it as `tollbooth serve` does.
 */
import { startGateway } from '../../src/gateway.ts';

const gateway = await startGateway(process.argv[2]!, { env: process.env });
process.stdout.write(`${JSON.stringify({ proxy: gateway.proxyUrl, ops: gateway.opsUrl, pid: process.pid })}\n`);
process.once('SIGTERM', () => {
  void gateway.close(2000).then(() => process.exit(0));
});
