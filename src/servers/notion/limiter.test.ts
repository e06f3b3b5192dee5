import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createLimiter } from './limiter.js';

function deferred() {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

test('runs at most `limit` tasks at once and starts queued ones in order', async () => {
  const limiter = createLimiter(2);
  const gates = [deferred(), deferred(), deferred(), deferred()];
  const started: number[] = [];
  const runs = gates.map((gate, i) =>
    limiter.run(async () => {
      started.push(i);
      await gate.promise;
      return i;
    }),
  );
  await Promise.resolve();
  assert.deepEqual(started, [0, 1]);
  gates[1]!.resolve();
  await runs[1];
  await Promise.resolve();
  assert.deepEqual(started, [0, 1, 2]);
  for (const gate of gates) gate.resolve();
  assert.deepEqual(await Promise.all(runs), [0, 1, 2, 3]);
});

test('urgent tasks jump the queue', async () => {
  const limiter = createLimiter(1);
  const gate = deferred();
  const order: string[] = [];
  const first = limiter.run(() => gate.promise);
  const normal = limiter.run(async () => order.push('normal'));
  const urgent = limiter.run(async () => order.push('urgent'), true);
  gate.resolve();
  await Promise.all([first, normal, urgent]);
  assert.deepEqual(order, ['urgent', 'normal']);
});

test('abort refuses queued and later tasks; a failing task frees its slot', async () => {
  const limiter = createLimiter(1);
  const gate = deferred();
  const running = limiter.run(() => gate.promise);
  const queued = limiter.run(async () => 'never');
  limiter.abort(new Error('stop'));
  await assert.rejects(queued, /stop/);
  await assert.rejects(
    limiter.run(async () => 'later'),
    /stop/,
  );
  gate.resolve();
  await running;

  const other = createLimiter(1);
  await assert.rejects(
    other.run(() => Promise.reject(new Error('boom'))),
    /boom/,
  );
  assert.equal(await other.run(async () => 'next'), 'next');
});
