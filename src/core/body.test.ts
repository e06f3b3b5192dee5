import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { readBody } from './body.js';

function stream(headers: Record<string, string> = {}) {
  return Object.assign(new PassThrough(), { headers });
}

test('reads the whole body of a stream', async () => {
  const req = stream();
  const read = readBody(req, 10);
  req.write('abc');
  req.end('def');
  assert.deepEqual(await read, { ok: true, body: Buffer.from('abcdef') });
});

test('refuses a larger Content-Length before reading anything', async () => {
  const req = stream({ 'content-length': '11' });
  assert.deepEqual(await readBody(req, 10), { ok: false, reason: 'too-large', limit: 10 });
  assert.equal(req.readableFlowing, null, 'nothing was read');
});

test('refuses an undeclared body as soon as it passes the limit, leaving the rest unread', async () => {
  const req = stream();
  const read = readBody(req, 4);
  req.write('abc');
  req.write('de');
  assert.deepEqual(await read, { ok: false, reason: 'too-large', limit: 4 });
  assert.equal(req.isPaused(), true);
});

test('a stream that fails or closes before its end is aborted, never a rejection', async () => {
  const failed = stream();
  const read = readBody(failed, 10);
  failed.write('ab');
  failed.destroy(new Error('ECONNRESET'));
  assert.deepEqual(await read, { ok: false, reason: 'aborted' });
  const closed = stream();
  const read2 = readBody(closed, 10);
  closed.destroy();
  assert.deepEqual(await read2, { ok: false, reason: 'aborted' });
});

test('a body of exactly the limit is read; an empty one is an empty buffer', async () => {
  const exact = stream({ 'content-length': '5' });
  const read = readBody(exact, 5);
  exact.end(Buffer.from('hello'));
  assert.deepEqual(await read, { ok: true, body: Buffer.from('hello') });
  const empty = stream();
  const none = readBody(empty, 5);
  empty.end();
  assert.deepEqual(await none, { ok: true, body: Buffer.alloc(0) });
});
