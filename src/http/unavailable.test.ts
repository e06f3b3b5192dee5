import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { rawRequest, type RawRequest } from '../../test/support/http.js';
import { sendStorageUnavailable, type AnswerShape } from './unavailable.js';

describe('sendStorageUnavailable', () => {
  let server: Server;
  let base = '';
  before(async () => {
    // The shape comes from the path, as dispatch gives it from the entry that took the request.
    server = createServer((req, res) =>
      sendStorageUnavailable(req, res, req.url!.slice(1) as AnswerShape),
    );
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => server.close());

  const ask = (shape: AnswerShape, options: RawRequest = {}) =>
    rawRequest(base, { method: 'POST', path: `/${shape}`, ...options });

  function assertRetryable(res: { status: number; headers: Record<string, unknown> }): void {
    assert.equal(res.status, 503);
    assert.equal(res.headers['retry-after'], '2');
    assert.equal(res.headers['cache-control'], 'no-store');
  }

  test('an MCP route gets a JSON-RPC error, readable cross-origin', async () => {
    const res = await ask('mcp', { headers: { origin: 'https://inspector.example' } });
    assertRetryable(res);
    assert.equal(res.headers['content-type'], 'application/json');
    assert.equal(res.headers['access-control-allow-origin'], 'https://inspector.example');
    const body = JSON.parse(res.body) as { jsonrpc: string; id: null; error: { code: number } };
    assert.equal(body.jsonrpc, '2.0');
    assert.equal(body.id, null);
    assert.equal(body.error.code, -32001);
  });

  test('an OAuth endpoint gets temporarily_unavailable; a browser GET there a page', async () => {
    const res = await ask('oauth', { headers: { accept: 'text/html, application/json' } });
    assertRetryable(res);
    assert.equal(JSON.parse(res.body).error, 'temporarily_unavailable');
    assert.equal(res.headers['access-control-allow-origin'], '*');
    const page = await ask('oauth', { method: 'GET', headers: { accept: 'text/html' } });
    assertRetryable(page);
    assert.match(String(page.headers['content-type']), /^text\/html/);
    assert.match(page.body, /Temporarily unavailable/);
  });

  test('elsewhere, a page for a browser and JSON for the rest', async () => {
    const page = await ask('page', { method: 'POST', headers: { accept: 'text/html' } });
    assertRetryable(page);
    assert.match(page.body, /<h1>Temporarily unavailable<\/h1>/);
    assert.equal(page.headers['x-frame-options'], 'DENY');
    const json = await ask('page', { headers: { accept: 'application/json' } });
    assertRetryable(json);
    assert.deepEqual(Object.keys(JSON.parse(json.body)), ['error', 'error_description']);
    assert.equal(json.headers['access-control-allow-origin'], undefined);
  });
});
