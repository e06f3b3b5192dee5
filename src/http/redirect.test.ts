import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import { createRedirectHandler } from './redirect.js';

interface Answer {
  readonly status: number;
  readonly type: string | undefined;
  readonly body: string;
  readonly location: string | undefined;
}

describe('http_redirect_addr with an ACME challenge responder', () => {
  let server: Server;
  const asked: string[] = [];
  before(async () => {
    const handler = createRedirectHandler({
      httpsPort: () => 8443,
      logger: pino({ level: 'silent' }),
      challenges: async (token, hostname) => {
        asked.push(`${hostname} ${token}`);
        if (token === 'explode') throw new Error('storage is down');
        return token === 'known-Token_1' ? `${token}.thumbprint` : undefined;
      },
    });
    server = createServer(handler);
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
  });
  after(() => server?.close());

  function get(path: string, method = 'GET'): Promise<Answer> {
    const { port } = server.address() as AddressInfo;
    return new Promise((resolve, reject) => {
      const req = request(
        { host: '127.0.0.1', port, path, method, headers: { host: 'Site.Example.Test:80' } },
        (res) => {
          let body = '';
          res.setEncoding('utf8').on('data', (c: string) => (body += c));
          res.on('end', () =>
            resolve({
              status: res.statusCode ?? 0,
              type: res.headers['content-type'],
              body,
              location: res.headers.location,
            }),
          );
        },
      );
      req.on('error', reject).end();
    });
  }

  it('answers a known token with its key authorization (RFC 8555 §8.3)', async () => {
    const answer = await get('/.well-known/acme-challenge/known-Token_1');
    assert.deepEqual(answer, {
      status: 200,
      type: 'application/octet-stream',
      body: 'known-Token_1.thumbprint',
      location: undefined,
    });
    assert.deepEqual(asked.splice(0), ['site.example.test known-Token_1']);
  });

  it('an unknown or malformed token is 404; the responder is not asked about a malformed one', async () => {
    assert.equal((await get('/.well-known/acme-challenge/unknown')).status, 404);
    assert.equal((await get('/.well-known/acme-challenge/a.b')).status, 404);
    assert.equal((await get('/.well-known/acme-challenge/')).status, 404);
    assert.deepEqual(asked.splice(0), ['site.example.test unknown']);
  });

  it('a failing responder is a bare 500; other methods and paths are redirected', async () => {
    const failed = await get('/.well-known/acme-challenge/explode');
    assert.equal(failed.status, 500);
    assert.deepEqual(JSON.parse(failed.body), { error: 'server_error' });
    const post = await get('/.well-known/acme-challenge/known-Token_1', 'POST');
    assert.equal(post.status, 301);
    assert.equal(
      post.location,
      'https://site.example.test:8443/.well-known/acme-challenge/known-Token_1',
    );
    assert.equal((await get('*', 'OPTIONS')).location, 'https://site.example.test:8443/');
  });
});
