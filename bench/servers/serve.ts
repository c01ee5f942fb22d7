/**
 * Shared by the bench servers (each its own process): listen on 127.0.0.1:0, announce the port on
 * stdout as `READY <port>`, and exit on SIGTERM/SIGINT or when the harness goes away (IPC closed).
 */
import { once } from 'node:events';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export async function serve(server: Server): Promise<void> {
  server.keepAliveTimeout = 65_000;
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const stop = () => {
    server.closeAllConnections();
    server.close();
    process.exit(0);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  process.on('disconnect', stop);
  process.stdout.write(`READY ${(server.address() as AddressInfo).port}\n`);
}
