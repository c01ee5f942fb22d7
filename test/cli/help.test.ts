/**
 * The `tollbooth` command as a newcomer meets it (issue 17, item 12): --version, `help`, `help
 * <command>` and `--help` on every command answer on stdout with exit 0; an unknown command or
 * option says what was wrong, shows the usage on stderr and exits 2.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';

const ROOT = new URL('../../', import.meta.url).pathname;
const NODE = `${ROOT}node_modules/.bin/node`;
const CLI = `${ROOT}src/cli.ts`;
const VERSION = JSON.parse(readFileSync(`${ROOT}package.json`, 'utf8')).version;
const COMMANDS = ['serve', 'validate', 'hash-key', 'ledger'];

const tollbooth = (...args: string[]) => spawnSync(NODE, [CLI, ...args], { encoding: 'utf8', env: { ...process.env, TOLLBOOTH_CONFIG: '' } });

describe('tollbooth', () => {
  test('--version (and version) prints the package version', () => {
    for (const arg of ['--version', '-V', 'version']) {
      const run = tollbooth(arg);
      assert.equal(run.status, 0, run.stderr);
      assert.equal(run.stdout, `tollbooth ${VERSION}\n`);
    }
  });

  test('help and --help list every command with one line each', () => {
    for (const args of [['help'], ['--help'], ['-h']]) {
      const run = tollbooth(...args);
      assert.equal(run.status, 0, run.stderr);
      assert.match(run.stdout, /^usage: tollbooth <command> \[options\]/);
      for (const c of COMMANDS) assert.match(run.stdout, new RegExp(`^  ${c} +\\S`, 'm'), `${c} is listed`);
      assert.match(run.stdout, /--version/);
    }
  });

  for (const command of COMMANDS) {
    test(`${command} --help, ${command} -h and help ${command} print its usage and exit 0 without doing anything`, () => {
      const outputs = [tollbooth(command, '--help'), tollbooth(command, '-h'), tollbooth('help', command)].map((run) => {
        assert.equal(run.status, 0, run.stderr);
        assert.equal(run.stderr, '');
        return run.stdout;
      });
      assert.match(outputs[0]!, new RegExp(`^usage: tollbooth ${command}`));
      assert.equal(outputs[1], outputs[0]);
      assert.equal(outputs[2], outputs[0]);
    });
  }

  test('help on a ledger subcommand is the ledger\'s usage', () => {
    const run = tollbooth('ledger', 'verify', '--help');
    assert.equal(run.status, 0);
    assert.match(run.stdout, /tollbooth ledger verify \[--dir DIR \| --config FILE\]/);
    assert.match(run.stdout, /tollbooth ledger summary/);
  });

  test('no command: the overview on stderr, exit 2', () => {
    const run = tollbooth();
    assert.equal(run.status, 2);
    assert.equal(run.stdout, '');
    assert.match(run.stderr, /^usage: tollbooth <command>/);
  });

  test('an unknown command or option names it, shows the usage and exits 2', () => {
    const unknown = tollbooth('serv');
    assert.equal(unknown.status, 2);
    assert.match(unknown.stderr, /^tollbooth: unknown command 'serv'\n\nusage: tollbooth <command>/);
    const option = tollbooth('serve', '--confg', 'x.yaml');
    assert.equal(option.status, 2);
    assert.match(option.stderr, /^tollbooth serve: Unknown option '--confg'.*\n\nusage: tollbooth serve \[--config FILE\]/s);
    assert.equal(tollbooth('help', 'nope').status, 2);
  });

  test('validate takes --config like serve does', () => {
    const run = tollbooth('validate', '--config', `${ROOT}config/tollbooth.yaml`);
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stdout, /^ok: \d+ files/);
  });
});
