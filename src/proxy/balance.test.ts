import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createBalancer } from './balance.js';

const urls = (...hosts: string[]) => hosts.map((h) => new URL(`http://${h}/p`));

test('round-robin over the upstreams, each request getting every one to fall back on', () => {
  const b = createBalancer(1000, () => 0);
  const ups = urls('a', 'b', 'c');
  assert.deepEqual(
    [b.order(ups), b.order(ups), b.order(ups), b.order(ups)],
    [
      [0, 1, 2],
      [1, 2, 0],
      [2, 0, 1],
      [0, 1, 2],
    ],
  );
  assert.deepEqual(b.order(urls('a')), [0]);
  assert.deepEqual(b.order([]), []);
});

test('an ejected upstream is tried last until its time is up', () => {
  let now = 0;
  const b = createBalancer(1000, () => now);
  const ups = urls('a', 'b');
  b.eject(ups[0]!);
  assert.deepEqual(b.order(ups), [1, 0]);
  assert.deepEqual(b.order(ups), [1, 0]);
  now = 1001;
  assert.deepEqual(b.order(ups), [0, 1]);
});
