import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { JWK } from 'jose';
import { createJwksHandler, JWKS_PATH } from './jwks-handler.js';

describe('createJwksHandler', () => {
  let keys: JWK[] = [{ kty: 'EC', crv: 'P-256', x: 'x1', y: 'y1', kid: 'k1' }];
  let failure: Error | undefined;
  const errors: unknown[] = [];
  let server: Server;
  let url: string;

  before(async () => {
    const handler = createJwksHandler(
      {
        async jwks() {
          if (failure) throw failure;
          return { keys };
        },
      },
      { onError: (err) => errors.push(err) },
    );
    server = createServer((req, res) => void handler(req, res));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}${JWKS_PATH}`;
  });
  after(() => new Promise<void>((resolve) => server.close(() => resolve())));

  test('serves the key set as cacheable, CORS-open JSON with a strong ETag', async () => {
    const res = await fetch(url);
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { keys });
    assert.equal(res.headers.get('content-type'), 'application/json');
    assert.equal(res.headers.get('cache-control'), 'public, max-age=60');
    assert.equal(res.headers.get('access-control-allow-origin'), '*');
    assert.match(res.headers.get('etag') ?? '', /^"[A-Za-z0-9_-]{43}"$/);
  });

  test('answers 304 when If-None-Match names the current ETag (weak or listed too)', async () => {
    const etag = (await fetch(url)).headers.get('etag')!;
    for (const inm of [etag, `W/${etag}`, `"other", ${etag}`, '*']) {
      const res = await fetch(url, { headers: { 'if-none-match': inm } });
      assert.equal(res.status, 304, inm);
      assert.equal(res.headers.get('etag'), etag);
      assert.equal(res.headers.get('cache-control'), 'public, max-age=60');
      assert.equal(await res.text(), '');
    }
    const stale = await fetch(url, { headers: { 'if-none-match': '"stale"' } });
    assert.equal(stale.status, 200);
  });

  test('changes the ETag when the keys change', async () => {
    const before = (await fetch(url)).headers.get('etag');
    keys = [...keys, { kty: 'EC', crv: 'P-256', x: 'x2', y: 'y2', kid: 'k2' }];
    const res = await fetch(url, { headers: { 'if-none-match': before! } });
    assert.equal(res.status, 200);
    assert.notEqual(res.headers.get('etag'), before);
    assert.equal(((await res.json()) as { keys: JWK[] }).keys.length, 2);
  });

  test('answers HEAD with the headers and no body', async () => {
    const get = await fetch(url);
    const body = await get.text();
    const head = await fetch(url, { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.equal(head.headers.get('etag'), get.headers.get('etag'));
    assert.equal(head.headers.get('content-length'), String(Buffer.byteLength(body)));
    assert.equal(await head.text(), '');
  });

  test('refuses other methods with 405 and Allow', async () => {
    for (const method of ['POST', 'PUT', 'DELETE', 'OPTIONS']) {
      const res = await fetch(url, { method });
      assert.equal(res.status, 405, method);
      assert.equal(res.headers.get('allow'), 'GET, HEAD');
    }
  });

  test('turns a failing key source into a bare 500 and reports it', async () => {
    failure = new Error('database is locked at /secret/path');
    const res = await fetch(url);
    failure = undefined;
    assert.equal(res.status, 500);
    assert.deepEqual(await res.json(), { error: 'server_error' });
    assert.equal(errors.length, 1);
  });
});
