/** The `tollbooth` command: serve, validate, hash-key, ledger verify|summary. */
import { createHash, randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { loadConfig } from './config/load.ts';
import { ConfigError } from './config/problems.ts';

export const DEFAULT_CONFIG = new URL('../config/tollbooth.yaml', import.meta.url).pathname;

const USAGE = `usage: tollbooth <command> [options]

commands:
  serve [--config FILE]      run the sidecar (default config: config/tollbooth.yaml)
  validate [FILE]            check a config file and the catalog it names; exit 1 on problems
  hash-key [KEY]             print the sha256 hash to put under keys[].hash (a new key if none given)
  ledger verify [--dir D]    check the ledger's hash chain; exit 1 naming the file:line of any altered entry
  ledger summary [--dir D] [--by org|model|provider|day] [--json]
                             balances and totals from the ledger, credits exact
`;

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'serve': {
      const { values } = parseArgs({ args: rest, options: { config: { type: 'string' } } });
      const { serve } = await import('./main.ts');
      await serve(values.config ?? process.env.TOLLBOOTH_CONFIG ?? DEFAULT_CONFIG);
      return -1;
    }
    case 'validate':
      return validate(rest[0] ?? process.env.TOLLBOOTH_CONFIG ?? DEFAULT_CONFIG);
    case 'hash-key': {
      const key = rest[0] ?? `tb-${randomBytes(24).toString('base64url')}`;
      if (!rest[0]) process.stdout.write(`key:  ${key}\n`);
      process.stdout.write(`hash: sha256:${createHash('sha256').update(key).digest('hex')}\n`);
      return 0;
    }
    case 'ledger': {
      const { runLedgerCommand } = await import('./cli/ledger.ts');
      return runLedgerCommand(rest, process.env.TOLLBOOTH_CONFIG ?? DEFAULT_CONFIG);
    }
    case undefined:
    case '-h':
    case '--help':
      process.stdout.write(USAGE);
      return command === undefined ? 2 : 0;
    default:
      process.stderr.write(`unknown command '${command}'\n${USAGE}`);
      return 2;
  }
}

function validate(file: string): number {
  try {
    const { catalog, files } = loadConfig(file);
    process.stdout.write(
      `ok: ${files.length} files, ${catalog.providers.size} providers, ${catalog.models.size} models\n`,
    );
    return 0;
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.problems.length} problem(s):\n${err.message}\n`);
      return 1;
    }
    throw err;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code >= 0) process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  },
);
