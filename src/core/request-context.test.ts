import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AsyncLocalStorage } from 'node:async_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { servingOAuth, switchedStorage } from './request-context.js';

/**
 * Starts `serve` inside `storage.run`, with a timer that reads the store after `lateMs`: once
 * the storage is disabled, every context it held is exited (Node's documented behaviour), so
 * the late read sees nothing.
 */
function serveWithLateRead(storage: AsyncLocalStorage<string>, lateMs: number) {
  let late: string | undefined = 'not read';
  const read = sleep(lateMs + 20).then(() => late);
  const served = servingOAuth(async () =>
    storage.run('request', () => {
      setTimeout(() => (late = storage.getStore()), lateMs);
      return sleep(5);
    }),
  );
  return { served, read };
}

test('a switched storage is disabled once the last OAuth request settles', async () => {
  const storage = switchedStorage(new AsyncLocalStorage<string>());
  const one = serveWithLateRead(storage, 30);
  await one.served;
  assert.equal(await one.read, undefined, 'its contexts were exited');

  // The next request enables it again.
  assert.equal(
    await servingOAuth(async () => storage.run('again', async () => storage.getStore())),
    'again',
  );
});

test('while another OAuth request is in flight the storage stays on', async () => {
  const storage = switchedStorage(new AsyncLocalStorage<string>());
  let release!: () => void;
  const longer = servingOAuth(() => new Promise<void>((r) => (release = r)));
  const one = serveWithLateRead(storage, 30);
  await one.served;
  assert.equal(await one.read, 'request');
  release();
  await longer;
});
