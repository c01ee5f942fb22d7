/** `tollbooth serve`: wiring only — start the gateway, reload on SIGHUP, drain on SIGTERM/SIGINT. */
import { startGateway } from './gateway.ts';

export async function serve(configFile: string): Promise<void> {
  const gateway = await startGateway(configFile);
  const log = gateway.services.log;
  // Start-up garbage (modules, catalog, schema compilation) grew V8's young generation, which stays
  // committed while idle; one memory-reducing collection gives ~30 MB back. `gc` exists only under
  // --expose-gc, which bin/tollbooth passes.
  globalThis.gc?.({ type: 'major', execution: 'sync', flavor: 'last-resort' });
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'draining');
    gateway.close().then(
      () => {
        log.info('stopped');
        process.exit(0);
      },
      (err: unknown) => {
        log.error({ err }, 'error while stopping');
        process.exit(1);
      },
    );
  };
  // GitOps without waiting for the file watch: reload the config and re-check mounted secrets.
  process.on('SIGHUP', () => void gateway.reload('SIGHUP'));
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}
