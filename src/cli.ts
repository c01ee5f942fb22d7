/** The `tollbooth` command: serve, validate, hash-key, ledger verify|summary, help, --version. */
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { LEDGER_USAGE } from './cli/ledger.ts';
import { loadConfig } from './config/load.ts';
import { ConfigError } from './config/problems.ts';

export const DEFAULT_CONFIG = new URL('../config/tollbooth.yaml', import.meta.url).pathname;

/** The package's version: package.json sits one level above src/ and dist/ alike (repo and image). */
function version(): string {
  return (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;
}

interface Command {
  /** One line for the overview. */
  summary: string;
  /** What `tollbooth help <command>` and `tollbooth <command> --help` print. */
  help: string;
}

const CONFIG_NOTE = `The config file is --config FILE, else $TOLLBOOTH_CONFIG, else config/tollbooth.yaml.`;

const COMMANDS: Record<string, Command> = {
  serve: {
    summary: 'run the sidecar (proxy and ops listeners) until SIGTERM',
    help: `usage: tollbooth serve [--config FILE]

Runs the sidecar: the proxy listener (unified API and native passthrough) and the ops listener
(/healthz, /readyz, /metrics, management API). The config and catalog are reloaded when their files
change or on SIGHUP; SIGTERM drains in-flight requests and flushes the ledger.
${CONFIG_NOTE}
Logs are readable lines on a terminal and JSON otherwise (TOLLBOOTH_LOG_FORMAT=json|pretty to choose).
`,
  },
  validate: {
    summary: 'check a config file and the catalog it names; exit 1 on problems',
    help: `usage: tollbooth validate [FILE | --config FILE]

Loads FILE (else $TOLLBOOTH_CONFIG, else config/tollbooth.yaml) and the catalog it names, exactly as
serve would, and prints every problem with its file and path. Exit 0 when valid, 1 otherwise.
`,
  },
  'hash-key': {
    summary: 'print the sha256 hash to put under keys[].hash (a new key if none given)',
    help: `usage: tollbooth hash-key [KEY]

Prints the hash of KEY to put under keys[].hash in the config. Without KEY, makes a new random key
(tb-…) and prints it with its hash: hand the key to the caller, store only the hash.
`,
  },
  ledger: {
    summary: 'verify, repair, archive or summarize the ledger; collect and reconcile it with shared state',
    help: `${LEDGER_USAGE}
  verify     checks every entry's hash, seq and link across files (and the archive) and that every
             checkpoint equals the replay; exit 1 naming the file:line of any edited, deleted or
             reordered entry
  repair     sets a damaged tail aside (kept readable) and continues the chain with an entry that
             records what was set aside; refuses while a gateway holds the directory
  archive    compresses closed files that a checkpoint covers into the archive directory (or hands
             them to a command), removing each only once it was read back
  summary    balances per org and totals grouped by org, model, provider or day; credits exact
  collect    (state: redis) writes every replica's charges from the shared streams into the
             consolidated ledger in --dir, exactly once; until SIGTERM, or --once
  reconcile  (state: redis) compares the consolidated ledger with the balances in Redis; exit 1 on
             differences; --repair sets Redis to the ledger
The directory is --dir, else the ledger.dir of --config (else of the default config).
`,
  },
  help: {
    summary: 'this overview, or a command\'s help (tollbooth help ledger)',
    help: `usage: tollbooth help [COMMAND]
`,
  },
};

function overview(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((c) => c.length));
  const lines = Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`);
  return `usage: tollbooth <command> [options]

commands:
${lines.join('\n')}

  tollbooth <command> --help   a command's options
  tollbooth --version          the version
`;
}

const wantsHelp = (args: string[]) => args.includes('--help') || args.includes('-h');

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === '--version' || command === '-V' || command === 'version') {
    process.stdout.write(`tollbooth ${version()}\n`);
    return 0;
  }
  if (command === undefined) {
    process.stderr.write(overview());
    return 2;
  }
  if (command === 'help' || command === '--help' || command === '-h') {
    const topic = rest[0];
    if (topic === undefined) {
      process.stdout.write(overview());
      return 0;
    }
    const known = COMMANDS[topic];
    if (!known) return unknown(topic);
    process.stdout.write(known.help);
    return 0;
  }
  const known = COMMANDS[command];
  if (!known) return unknown(command);
  if (wantsHelp(rest)) {
    process.stdout.write(known.help);
    return 0;
  }
  try {
    return await run(command, rest);
  } catch (err) {
    // parseArgs: an unknown option or a missing value is a usage error, answered with the command's help.
    if ((err as NodeJS.ErrnoException).code?.startsWith('ERR_PARSE_ARGS_')) {
      process.stderr.write(`tollbooth ${command}: ${(err as Error).message}\n\n${known.help}`);
      return 2;
    }
    throw err;
  }
}

function unknown(command: string): number {
  process.stderr.write(`tollbooth: unknown command '${command}'\n\n${overview()}`);
  return 2;
}

async function run(command: string, rest: string[]): Promise<number> {
  switch (command) {
    case 'serve': {
      const { values } = parseArgs({ args: rest, options: { config: { type: 'string' } } });
      const { serve } = await import('./main.ts');
      await serve(values.config ?? process.env.TOLLBOOTH_CONFIG ?? DEFAULT_CONFIG);
      return -1;
    }
    case 'validate': {
      const { values, positionals } = parseArgs({ args: rest, allowPositionals: true, options: { config: { type: 'string' } } });
      return validate(values.config ?? positionals[0] ?? process.env.TOLLBOOTH_CONFIG ?? DEFAULT_CONFIG);
    }
    case 'hash-key': {
      const { positionals } = parseArgs({ args: rest, allowPositionals: true, options: {} });
      const key = positionals[0] ?? `tb-${randomBytes(24).toString('base64url')}`;
      if (!positionals[0]) process.stdout.write(`key:  ${key}\n`);
      process.stdout.write(`hash: sha256:${createHash('sha256').update(key).digest('hex')}\n`);
      return 0;
    }
    case 'ledger': {
      const { runLedgerCommand } = await import('./cli/ledger.ts');
      return runLedgerCommand(rest, process.env.TOLLBOOTH_CONFIG ?? DEFAULT_CONFIG);
    }
    default:
      return unknown(command);
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
