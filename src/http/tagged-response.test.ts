import assert from 'node:assert/strict';
import { createServer, get, type IncomingHttpHeaders, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, it } from 'node:test';
import { TaggedResponse, tagResponse } from './tagged-response.js';

/** How each test's handler writes its head: the id must be in it whichever way. */
const writers: Record<string, (res: ServerResponse) => void> = {
  object: (res) => res.writeHead(200, { 'X-Request-Id': 'theirs', 'x-kept': 'yes' }).end(),
  flat: (res) => res.writeHead(201, 'Made', ['X-Request-Id', 'theirs', 'x-kept', 'yes']).end(),
  pairs: (res) =>
    res
      .writeHead(200, [
        ['x-kept', 'yes'],
        ['x-request-id', 'theirs'],
      ])
      .end(),
  implicit: (res) => {
    res.setHeader('x-kept', 'yes');
    res.end('body');
  },
  progressive: (res) => {
    res.setHeader('x-kept', 'yes');
    res.writeHead(200, { 'x-request-id': 'theirs' }).end();
  },
};

let origin = '';
const server = createServer({ ServerResponse: TaggedResponse }, (req, res) => {
  tagResponse(res, 'ours');
  writers[req.url!.slice(1)]!(res);
});
before(async () => {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(() => server.close());

function headersOf(path: string): Promise<IncomingHttpHeaders> {
  return new Promise((resolve, reject) => {
    get(`${origin}${path}`, { agent: false }, (res) => {
      res.resume();
      resolve(res.headers);
    }).on('error', reject);
  });
}

for (const way of Object.keys(writers)) {
  it(`carries the request id, not the one given, in a head written ${way}`, async () => {
    const headers = await headersOf(`/${way}`);
    assert.equal(headers['x-request-id'], 'ours');
    assert.equal(headers['x-kept'], 'yes');
  });
}

it('sets the id at once on a response of another class', () => {
  const headers = new Map<string, unknown>();
  const plain = { setHeader: (name: string, value: unknown) => headers.set(name, value) };
  tagResponse(plain as unknown as ServerResponse, 'ours');
  assert.equal(headers.get('x-request-id'), 'ours');
});
