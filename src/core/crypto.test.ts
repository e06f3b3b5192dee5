import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import {
  CryptoError,
  deriveKey,
  hashPassword,
  open,
  randomId,
  seal,
  sha256Hex,
  timingSafeEqualString,
  verifyPassword,
} from './crypto.js';

const SECRET = randomBytes(32).toString('base64');

function refusesToOpen(fn: () => unknown): void {
  assert.throws(
    fn,
    (err: unknown) => err instanceof CryptoError && err.code === 'ERR_SEALED_INVALID',
  );
}

describe('randomId and sha256Hex', () => {
  test('randomId is base64url of the requested size and does not repeat', () => {
    const a = randomId();
    assert.match(a, /^[A-Za-z0-9_-]{43}$/);
    assert.notEqual(a, randomId());
    assert.equal(Buffer.from(randomId(16), 'base64url').length, 16);
  });

  test('sha256Hex matches a known vector', () => {
    assert.equal(
      sha256Hex('abc'),
      'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad',
    );
  });
});

describe('deriveKey', () => {
  test('gives 32 bytes, stable per secret and purpose, distinct across purposes', () => {
    const a = deriveKey(SECRET, 'signing-key');
    assert.equal(a.length, 32);
    assert.deepEqual(a, deriveKey(SECRET, 'signing-key'));
    assert.notDeepEqual(a, deriveKey(SECRET, 'upstream-tokens'));
    assert.notDeepEqual(a, deriveKey(randomBytes(32).toString('base64'), 'signing-key'));
  });

  test('reads base64 of 32 bytes as bytes, and anything else as text', () => {
    const bytes = randomBytes(32);
    assert.deepEqual(
      deriveKey(bytes.toString('base64'), 'p'),
      deriveKey(bytes.toString('base64url'), 'p'),
    );
    // Short base64 ("c2hvcnQ=" is 5 bytes) is taken as its own text, not decoded.
    assert.equal(deriveKey('c2hvcnQ=', 'p').length, 32);
    assert.equal(deriveKey('not base64 at all!', 'p').length, 32);
    assert.throws(() => deriveKey('', 'p'), TypeError);
  });
});

describe('seal and open', () => {
  const key = deriveKey(SECRET, 'test');

  test('round-trips text, with and without aad, under a fresh IV each time', () => {
    const text = 'refresh-token ✓ ' + 'x'.repeat(1000);
    assert.equal(open(key, seal(key, text)), text);
    assert.equal(open(key, seal(key, text, 'row-1'), 'row-1'), text);
    assert.equal(open(key, seal(key, '')), '');
    assert.notEqual(seal(key, text), seal(key, text));
    assert.match(seal(key, text), /^v1\.[A-Za-z0-9_-]{16}\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{22}$/);
  });

  test('refuses another key, another aad, or a missing aad', () => {
    const sealed = seal(key, 'secret', 'user:ada');
    refusesToOpen(() => open(deriveKey(SECRET, 'other'), sealed, 'user:ada'));
    refusesToOpen(() => open(key, sealed, 'user:bob'));
    refusesToOpen(() => open(key, sealed));
    refusesToOpen(() => open(key, seal(key, 'secret'), 'user:ada'));
  });

  test('refuses any tampering and malformed input', () => {
    const sealed = seal(key, 'secret value');
    const parts = sealed.split('.');
    for (const i of [1, 2, 3]) {
      const p = Buffer.from(parts[i]!, 'base64url');
      p[0] = p[0]! ^ 1;
      const tampered = parts.map((x, j) => (j === i ? p.toString('base64url') : x)).join('.');
      refusesToOpen(() => open(key, tampered));
    }
    for (const bad of ['', 'v1', 'v2.' + parts.slice(1).join('.'), sealed + '.x', 'v1.!!.a.b']) {
      refusesToOpen(() => open(key, bad));
    }
  });

  test('refuses keys of the wrong size (a programmer error)', () => {
    assert.throws(() => seal(Buffer.alloc(16), 'x'), RangeError);
  });
});

describe('timingSafeEqualString', () => {
  test('compares by value, including lengths', () => {
    assert.equal(timingSafeEqualString('abc', 'abc'), true);
    assert.equal(timingSafeEqualString('abc', 'abd'), false);
    assert.equal(timingSafeEqualString('abc', 'abcd'), false);
    assert.equal(timingSafeEqualString('', ''), true);
  });
});

describe('hashPassword and verifyPassword', () => {
  test('verifies the right password and rejects others', async () => {
    const stored = await hashPassword('correct horse battery staple');
    assert.match(stored, /^scrypt\$32768\$8\$1\$[A-Za-z0-9_-]{22}\$[A-Za-z0-9_-]{43}$/);
    assert.equal(await verifyPassword('correct horse battery staple', stored), true);
    assert.equal(await verifyPassword('correct horse battery stapl', stored), false);
    assert.equal(await verifyPassword('', stored), false);
    assert.notEqual(await hashPassword('same'), await hashPassword('same'));
  });

  test('returns false for malformed or hostile stored values', async () => {
    const stored = await hashPassword('pw');
    const [, , , , salt, hash] = stored.split('$');
    for (const bad of [
      '',
      'pw',
      stored.replace('scrypt', 'bcrypt'),
      stored + '$x',
      `scrypt$32767$8$1$${salt}$${hash}`, // N not a power of two
      `scrypt$${2 ** 24}$8$1$${salt}$${hash}`, // N beyond the bound
      `scrypt$32768$0$1$${salt}$${hash}`,
      `scrypt$32768$8$1$${salt}$!!`,
      `scrypt$32768$8$1$$${hash}`,
    ]) {
      assert.equal(await verifyPassword('pw', bad), false, bad);
    }
  });
});
