import assert from 'node:assert/strict';
import { test } from 'node:test';
import { growthSteering } from './young-generation.js';

const MIB = 1024 * 1024;
/** V8's figure for a semi-space of `mib`: its capacity less the pages' headers. */
const semi = (mib: number) => mib * MIB * 0.983;

test('one growth from the 1 MiB start reaches the cap, and growing stops there', () => {
  const next = growthSteering(4 * MIB);
  assert.equal(next(semi(1)), 4);
  assert.equal(next(semi(1)), undefined);
  assert.equal(next(semi(4)), 1);
  assert.equal(next(semi(4)), undefined);
});

test('after the memory reducer shrank the space, it may grow to the cap again', () => {
  const next = growthSteering(4 * MIB);
  next(semi(1));
  next(semi(4));
  assert.equal(next(semi(1)), 4);
  assert.equal(next(semi(4)), 1);
});

test('a growth past the cap before the factor went to 1 is held where it is', () => {
  const next = growthSteering(4 * MIB);
  next(semi(1));
  // Two growths in one task, 1 → 4 → 16: V8 grew before the observer ran.
  assert.equal(next(semi(16)), 1);
  assert.equal(next(semi(16)), undefined);
});

test('a V8 that grows with the factor at 1 is left to its default', () => {
  const next = growthSteering(4 * MIB);
  next(semi(1));
  next(semi(4));
  assert.equal(next(semi(8)), 'unheld');
});
