/**
 * One writer per ledger directory: a second gateway on a directory in use refuses to start and
 * names the holder; a lock whose holder is gone (dead pid on this host, or untouched for long from
 * another host) is taken over; a live holder's lock is never taken.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync, existsSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { stringify, parse } from 'yaml';
import { DirLock, LedgerLockedError } from '../../../src/metering/ledger/dir-lock.ts';
import { Ledger } from '../../../src/metering/ledger/ledger.ts';
import { startChildGateway, type ChildGateway } from '../../support/child-gateway.ts';
import { FakeUpstream } from '../../support/fake-upstream.ts';
import { writeTestConfig } from '../../support/gateway.ts';

describe('ledger directory lock', () => {
  let upstream: FakeUpstream;
  let first: ChildGateway | undefined;
  const dirs: string[] = [];
  before(async () => {
    upstream = await FakeUpstream.start();
  });
  after(async () => {
    await first?.stop();
    await upstream.close();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  test('a second gateway on a ledger directory in use refuses to start, naming the holder', async () => {
    const a = writeTestConfig({ upstream });
    const b = writeTestConfig({ upstream });
    dirs.push(a.dir, b.dir);
    // B's config points at A's ledger directory (a shared volume, a mistaken second Deployment).
    const config = parse(readFileSync(b.file, 'utf8'));
    config.ledger.dir = join(a.dir, 'data');
    writeFileSync(b.file, stringify(config));

    first = await startChildGateway(a.file, a.env);
    await assert.rejects(startChildGateway(b.file, b.env), (err: Error) => {
      assert.match(err.message, new RegExp(`in use by pid ${first!.child.pid} on ${hostname()}`));
      assert.match(err.message, /since \d{4}-\d\d-\d\dT/);
      return true;
    });
    // The holder was not disturbed: it still serves, and its lock is still its own.
    assert.equal((await fetch(`${first.opsUrl}/readyz`)).status, 200);
    assert.equal(JSON.parse(readFileSync(join(a.dir, 'data', 'LOCK'), 'utf8')).pid, first.child.pid);
    // Once it stops, the directory is free again.
    assert.equal(await first.stop(), 0);
    assert.equal(existsSync(join(a.dir, 'data', 'LOCK')), false, 'a clean stop removes the lock');
  });

  test('a lock left by a dead process on this host is taken over', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tollbooth-lock-'));
    dirs.push(dir);
    // A pid far above any pid_max default: no such process.
    writeFileSync(join(dir, 'LOCK'), JSON.stringify({ pid: 2 ** 30, host: hostname(), instance: 'gone', since: '2026-01-01T00:00:00.000Z' }));
    const ledger = await Ledger.open({ dir, instance: 'me' });
    assert.equal(JSON.parse(readFileSync(join(dir, 'LOCK'), 'utf8')).instance, 'me');
    await ledger.close();
  });

  test('another host: a lock touched recently is respected, a stale one is taken over', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tollbooth-lock-'));
    dirs.push(dir);
    const path = join(dir, 'LOCK');
    writeFileSync(path, JSON.stringify({ pid: 1, host: 'other-node', instance: 'pod-b', since: '2026-01-01T00:00:00.000Z' }));
    assert.throws(() => DirLock.acquire(dir, { instance: 'me', staleMs: 60_000 }), (err: unknown) => {
      assert.ok(err instanceof LedgerLockedError);
      assert.match(err.message, /pid 1 on other-node \(instance pod-b\)/);
      return true;
    });
    const old = new Date(Date.now() - 10 * 60_000);
    utimesSync(path, old, old);
    const lock = DirLock.acquire(dir, { instance: 'me', staleMs: 60_000 });
    assert.equal(JSON.parse(readFileSync(path, 'utf8')).instance, 'me');
    lock.release();
    assert.equal(existsSync(path), false);
  });
});
