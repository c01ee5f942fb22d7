/**
 * The file watch under config reload and secret rotation: a kubelet `..data` swap is seen through
 * directory events and, when events are off or lost, by the periodic stat; a burst of events makes
 * one change; nothing is reported while nothing changes.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { FileWatch } from '../../src/config/watch.ts';
import { KubeletVolume } from '../support/kubelet-volume.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const root = mkdtempSync(join(tmpdir(), 'tollbooth-watch-'));
after(() => rmSync(root, { recursive: true, force: true }));

async function until(check: () => boolean, timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await sleep(5);
  }
}

describe('FileWatch', () => {
  test('directory events see a kubelet swap long before the poll would', async () => {
    const volume = new KubeletVolume(join(root, 'events'), { 'api-key': 'one' });
    let changes = 0;
    const watch = new FileWatch({ files: [volume.path('api-key')] }, () => changes++, { debounceMs: 20, pollMs: 60_000 });
    try {
      const started = Date.now();
      volume.update({ 'api-key': 'two' });
      await until(() => changes === 1);
      assert.ok(Date.now() - started < 2000);
      await sleep(100);
      assert.equal(changes, 1, 'the swap\'s several directory events made one change');
    } finally {
      watch.close();
    }
  });

  test('with events off, the periodic stat still sees the swap', async () => {
    const volume = new KubeletVolume(join(root, 'poll'), { 'api-key': 'one' });
    let changes = 0;
    const watch = new FileWatch({ files: [volume.path('api-key')] }, () => changes++, { debounceMs: 20, pollMs: 50, fsEvents: false });
    try {
      await sleep(150);
      assert.equal(changes, 0, 'nothing changed, nothing reported');
      volume.update({ 'api-key': 'two' });
      await until(() => changes === 1);
    } finally {
      watch.close();
    }
  });

  test('a new file in a watched directory counts; kubelet bookkeeping entries alone do not', async () => {
    const volume = new KubeletVolume(join(root, 'catalog'), { 'models/a.yaml': 'models: []' });
    let changes = 0;
    const watch = new FileWatch({ files: [volume.path('models/a.yaml')], dirs: [volume.path('models')] }, () => changes++, { debounceMs: 10, pollMs: 50, fsEvents: false });
    try {
      writeFileSync(join(volume.dir, '..unrelated_tmp'), '');
      await sleep(150);
      assert.equal(changes, 0);
      volume.update({ 'models/a.yaml': 'models: []', 'models/b.yaml': 'models: []' });
      await until(() => changes === 1);
    } finally {
      watch.close();
    }
  });

  test('an in-place edit (not through a symlink) is seen too', async () => {
    const file = join(root, 'plain.yaml');
    writeFileSync(file, 'a: 1\n');
    let changes = 0;
    const watch = new FileWatch({ files: [file] }, () => changes++, { debounceMs: 10, pollMs: 50 });
    try {
      writeFileSync(file, 'a: 22\n');
      await until(() => changes === 1);
      const later = new Date(Date.now() + 5000);
      utimesSync(file, later, later);
      await until(() => changes === 2);
    } finally {
      watch.close();
    }
  });
});
