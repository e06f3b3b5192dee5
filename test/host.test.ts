// The servers host's HTTP surface, probed with raw node:http requests: what it refuses, how it
// answers, and that concurrent stateless clients never see each other's answers.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ServersHost } from '../src/servers/host.js';
import {
  ISSUER,
  newSigningKey,
  signAssertion,
  startJwksServer,
} from './support/assertion-issuer.js';
import { spawnCli } from './support/cli.js';
import { startTestHost } from './support/host.js';
import { connectClient } from './support/mcp-client.js';
import { rawExchange, rawRequest, sseMessages, type RawRequest } from './support/http.js';
import { SlowToolProbe, testServerFactory } from './support/test-server.js';

const JSON_AND_SSE = 'application/json, text/event-stream';

interface RpcResponse {
  jsonrpc: '2.0';
  id: string | number | null;
  result?: { content?: { type: string; text: string }[]; isError?: boolean } & Record<
    string,
    unknown
  >;
  error?: { code: number; message: string };
}

function call(id: string | number, name: string, args: Record<string, unknown>) {
  return { jsonrpc: '2.0', id, method: 'tools/call', params: { name, arguments: args } };
}

/** POSTs JSON-RPC to `/test` with the headers a Streamable HTTP client sends. */
function post(host: ServersHost, body: unknown, options: RawRequest = {}) {
  return rawRequest(host.url, {
    path: '/test',
    body: typeof body === 'string' ? body : JSON.stringify(body),
    ...options,
    headers: { 'content-type': 'application/json', accept: JSON_AND_SSE, ...options.headers },
  });
}

async function postRpc(host: ServersHost, body: unknown, options: RawRequest = {}) {
  const res = await post(host, body, options);
  assert.equal(res.status, 200, res.body);
  assert.match(String(res.headers['content-type']), /^application\/json/);
  return JSON.parse(res.body) as RpcResponse;
}

function errorOf(body: string) {
  return (JSON.parse(body) as RpcResponse).error;
}

describe('servers host: request checks', () => {
  let host: ServersHost;
  before(async () => {
    host = await startTestHost([testServerFactory()], { MAX_REQUEST_BYTES: '2048' });
  });
  after(() => host.close());

  const ping = { jsonrpc: '2.0', id: 1, method: 'ping' };

  test('answers a plain ping', async () => {
    assert.deepEqual(await postRpc(host, ping), { jsonrpc: '2.0', id: 1, result: {} });
  });

  test('refuses a foreign Origin with 403 and lets loopback origins through', async () => {
    for (const origin of ['http://evil.example', 'https://localhost.evil.example', 'null']) {
      const res = await post(host, ping, { headers: { origin } });
      assert.equal(res.status, 403, origin);
      assert.equal(errorOf(res.body)?.code, -32600);
    }
    for (const origin of ['http://localhost:6274', 'http://127.0.0.1', 'https://[::1]:8443']) {
      assert.equal((await post(host, ping, { headers: { origin } })).status, 200, origin);
    }
  });

  test('refuses a Host outside the allowed list (DNS rebinding) with 403', async () => {
    const port = new URL(host.url).port;
    for (const h of ['evil.example', `evil.example:${port}`, `localhost.evil.example:${port}`]) {
      const res = await post(host, ping, { headers: { host: h } });
      assert.equal(res.status, 403, h);
    }
    // HTTP/1.1 without Host is already a 400 from node:http; HTTP/1.0 reaches the host's check.
    assert.equal((await post(host, ping, { setHost: false })).status, 400);
    const body = JSON.stringify(ping);
    const http10 = await rawExchange(
      port,
      `POST /test HTTP/1.0\r\nContent-Type: application/json\r\nAccept: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`,
    );
    assert.match(http10, /^HTTP\/1\.1 403 /);
    for (const h of [`localhost:${port}`, `127.0.0.1:${port}`, `[::1]:${port}`, 'LOCALHOST']) {
      assert.equal((await post(host, ping, { headers: { host: h } })).status, 200, h);
    }
  });

  test('answers GET and DELETE with 405 and Allow: POST', async () => {
    for (const method of ['GET', 'DELETE']) {
      const res = await rawRequest(host.url, {
        method,
        path: '/test',
        headers: { accept: 'text/event-stream' },
      });
      assert.equal(res.status, 405, method);
      assert.equal(res.headers.allow, 'POST');
    }
  });

  test('answers unknown paths with 404 and /healthz with the mounted servers', async () => {
    assert.equal((await post(host, ping, { path: '/test/' })).status, 404);
    assert.equal((await post(host, ping, { path: '/other' })).status, 404);
    const health = await rawRequest(host.url, { method: 'GET', path: '/healthz' });
    assert.equal(health.status, 200);
    assert.deepEqual(JSON.parse(health.body), { status: 'ok', servers: ['/test'] });
  });

  test('refuses a body over MAX_REQUEST_BYTES with 413, declared or chunked', async () => {
    const big = call(1, 'echo', { value: 'x'.repeat(3000) });
    const declared = await post(host, big);
    assert.equal(declared.status, 413);
    assert.equal(errorOf(declared.body)?.code, -32600);

    const text = JSON.stringify(big);
    const chunks = [text.slice(0, 1000), text.slice(1000, 2000), text.slice(2000)];
    const chunked = await post(host, undefined, { body: chunks });
    assert.equal(chunked.status, 413);

    // Just under the limit is fine.
    const fits = await postRpc(host, call(2, 'echo', { value: 'y'.repeat(1900) }));
    assert.equal(fits.result?.content?.[0]?.text.length, 1900);
  });

  test('refuses a non-JSON Content-Type with 415', async () => {
    for (const type of ['text/plain', 'application/x-www-form-urlencoded', 'application/jsonx']) {
      const res = await post(host, ping, { headers: { 'content-type': type } });
      assert.equal(res.status, 415, type);
    }
    assert.equal(
      (await post(host, ping, { headers: { 'content-type': 'application/json; charset=utf-8' } }))
        .status,
      200,
    );
  });

  test('answers a body that is not JSON with 400 and -32700', async () => {
    for (const body of ['{"jsonrpc":', 'not json', '']) {
      const res = await post(host, body);
      assert.equal(res.status, 400, JSON.stringify(body));
      assert.deepEqual(JSON.parse(res.body), {
        jsonrpc: '2.0',
        id: null,
        error: { code: -32700, message: errorOf(res.body)?.message },
      });
    }
  });

  test('answers JSON that is not JSON-RPC with 400 and -32600', async () => {
    const bodies = [
      { hello: 'world' },
      { jsonrpc: '1.0', id: 1, method: 'ping' },
      { jsonrpc: '2.0', id: { nested: true }, method: 'ping' },
      [],
      [ping, 42],
      null,
      'ping',
    ];
    for (const body of bodies) {
      const res = await post(host, JSON.stringify(body));
      assert.equal(res.status, 400, JSON.stringify(body));
      assert.equal(errorOf(res.body)?.code, -32600, JSON.stringify(body));
    }
  });

  test('refuses an unsupported Mcp-Protocol-Version with 400, except on initialize', async () => {
    const res = await post(host, ping, { headers: { 'mcp-protocol-version': '1999-01-01' } });
    assert.equal(res.status, 400);
    assert.match(errorOf(res.body)?.message ?? '', /1999-01-01/);
    const ok = await post(host, ping, { headers: { 'mcp-protocol-version': '2025-11-25' } });
    assert.equal(ok.status, 200);
    const init = {
      jsonrpc: '2.0',
      id: 0,
      method: 'initialize',
      params: {
        protocolVersion: '2025-11-25',
        capabilities: {},
        clientInfo: { name: 'raw', version: '0' },
      },
    };
    const answer = await postRpc(host, init, { headers: { 'mcp-protocol-version': '1999-01-01' } });
    assert.equal(answer.result?.protocolVersion, '2025-11-25');
  });

  test('answers 406 when the client accepts neither JSON nor SSE', async () => {
    const res = await post(host, ping, { headers: { accept: 'text/html' } });
    assert.equal(res.status, 406);
  });
});

describe('servers host: ALLOWED_ORIGINS and ALLOWED_HOSTS', () => {
  let host: ServersHost;
  const ping = { jsonrpc: '2.0', id: 1, method: 'ping' };
  before(async () => {
    host = await startTestHost([testServerFactory()], {
      ALLOWED_ORIGINS: 'https://app.example.com, https://tools.example.com:8443',
      ALLOWED_HOSTS: 'mcp.internal,mcp.example.com:8080',
    });
  });
  after(() => host.close());

  test('only the configured origins pass (loopback pages no longer do)', async () => {
    const host1 = { host: 'mcp.internal' };
    for (const origin of ['https://app.example.com', 'https://tools.example.com:8443']) {
      const res = await post(host, ping, { headers: { ...host1, origin } });
      assert.equal(res.status, 200, origin);
    }
    for (const origin of [
      'http://app.example.com',
      'https://tools.example.com',
      'https://app.example.com.evil.example',
      'http://localhost:6274',
    ]) {
      const res = await post(host, ping, { headers: { ...host1, origin } });
      assert.equal(res.status, 403, origin);
    }
  });

  test('only the configured hosts pass, by name or exact name:port', async () => {
    for (const h of ['mcp.internal', 'mcp.internal:9999', 'MCP.INTERNAL', 'mcp.example.com:8080']) {
      assert.equal((await post(host, ping, { headers: { host: h } })).status, 200, h);
    }
    const port = new URL(host.url).port;
    for (const h of ['mcp.example.com', 'mcp.example.com:9090', `localhost:${port}`, 'internal']) {
      assert.equal((await post(host, ping, { headers: { host: h } })).status, 403, h);
    }
  });

  test('ALLOWED_HOSTS=* turns the Host check off', async (t) => {
    const open = await startTestHost([testServerFactory()], { ALLOWED_HOSTS: '*' });
    t.after(() => open.close());
    assert.equal((await post(open, ping, { headers: { host: 'anything.example' } })).status, 200);
  });

  test('a malformed ALLOWED_ORIGINS entry stops start-up, naming the setting', async () => {
    await assert.rejects(
      startTestHost([testServerFactory()], { ALLOWED_ORIGINS: 'https://app.example.com/path' }),
      { code: 'ERR_CONFIG', message: /^ALLOWED_ORIGINS: / },
    );
  });
});

describe('servers host: answers', () => {
  let host: ServersHost;
  before(async () => {
    host = await startTestHost([testServerFactory()]);
  });
  after(() => host.close());

  test('answers with JSON when accepted and SSE when only SSE is accepted', async () => {
    const json = await post(host, call(7, 'echo', { value: 'hi' }));
    assert.match(String(json.headers['content-type']), /^application\/json/);
    assert.equal((JSON.parse(json.body) as RpcResponse).result?.content?.[0]?.text, 'hi');

    const sse = await post(host, call('s-7', 'echo', { value: 'there' }), {
      headers: { accept: 'text/event-stream' },
    });
    assert.equal(sse.status, 200);
    assert.match(String(sse.headers['content-type']), /^text\/event-stream/);
    const [message, ...rest] = sseMessages(sse.body) as RpcResponse[];
    assert.equal(rest.length, 0);
    assert.equal(message?.id, 's-7');
    assert.equal(message?.result?.content?.[0]?.text, 'there');
  });

  test('streams a request’s progress notifications before its result over SSE', async () => {
    const body = call(3, 'progress', { steps: 3 });
    (body.params as Record<string, unknown>)._meta = { progressToken: 'tok' };
    const sse = await post(host, body, { headers: { accept: 'text/event-stream' } });
    const messages = sseMessages(sse.body) as (RpcResponse & {
      method?: string;
      params?: { progressToken?: string; progress?: number };
    })[];
    assert.deepEqual(
      messages.map((m) => m.method ?? `result ${m.id}`),
      ['notifications/progress', 'notifications/progress', 'notifications/progress', 'result 3'],
    );
    assert.deepEqual(
      messages.slice(0, 3).map((m) => [m.params?.progressToken, m.params?.progress]),
      [
        ['tok', 1],
        ['tok', 2],
        ['tok', 3],
      ],
    );
    // JSON answers carry the result only.
    const json = await postRpc(host, body);
    assert.equal(json.result?.content?.[0]?.text, '3 steps');
  });

  test('answers a batch with one response per request, ids preserved', async () => {
    const batch = [
      call(1, 'echo', { value: 'one' }),
      { jsonrpc: '2.0', method: 'notifications/initialized' },
      call('two', 'echo', { value: 'two' }),
      call(3, 'echo', { value: 'three' }),
    ];
    const res = await post(host, batch);
    assert.equal(res.status, 200);
    const answers = JSON.parse(res.body) as RpcResponse[];
    assert.ok(Array.isArray(answers));
    assert.deepEqual(
      answers
        .map((a) => [a.id, a.result?.content?.[0]?.text])
        .sort((a, b) => String(a[0]).localeCompare(String(b[0]))),
      [
        [1, 'one'],
        [3, 'three'],
        ['two', 'two'],
      ],
    );

    const sse = await post(host, batch, { headers: { accept: 'text/event-stream' } });
    const streamed = sseMessages(sse.body) as RpcResponse[];
    assert.deepEqual(streamed.map((m) => m.id).sort(), [1, 3, 'two'].sort());
  });

  test('answers notifications (and stray responses) alone with 202 and no body', async () => {
    for (const body of [
      { jsonrpc: '2.0', method: 'notifications/initialized' },
      [
        { jsonrpc: '2.0', method: 'notifications/initialized' },
        { jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: 1 } },
      ],
      { jsonrpc: '2.0', id: 5, result: {} },
    ]) {
      const res = await post(host, body);
      assert.equal(res.status, 202, JSON.stringify(body));
      assert.equal(res.body, '');
    }
  });

  test('gives concurrent clients with identical ids each their own answer', async () => {
    const requests = Array.from({ length: 60 }, (_, i) => {
      const id = i % 2 === 0 ? 1 : 'same';
      const value = `client-${i}`;
      const sse = i % 3 === 0;
      return post(host, call(id, 'echo', { value }), {
        headers: sse ? { accept: 'text/event-stream' } : {},
      }).then((res) => {
        const message = (sse ? sseMessages(res.body)[0] : JSON.parse(res.body)) as RpcResponse;
        return { id, value, message };
      });
    });
    for (const { id, value, message } of await Promise.all(requests)) {
      assert.equal(message.id, id);
      assert.equal(message.result?.content?.[0]?.text, value);
    }
  });

  test('reports tool argument errors without failing the request', async () => {
    const answer = await postRpc(host, call(9, 'echo', { value: 12 }));
    assert.equal(answer.id, 9);
    assert.ok(answer.error || answer.result?.isError, JSON.stringify(answer));
    const unknown = await postRpc(host, call(10, 'nope', {}));
    assert.ok(unknown.error || unknown.result?.isError, JSON.stringify(unknown));
  });
});

describe('servers host: cancellation and robustness', () => {
  const probe = new SlowToolProbe();
  let host: ServersHost;
  before(async () => {
    host = await startTestHost([testServerFactory(probe)]);
  });
  after(() => host.close());

  test('a client that disconnects cancels its tool call (extra.signal fires)', async () => {
    const abort = new AbortController();
    const pending = post(host, call(1, 'slow', { ms: 20_000, tag: 'abandoned' }), {
      signal: abort.signal,
    }).catch((err: unknown) => err);
    await probe.until((p) => p.started.includes('abandoned'));
    abort.abort();
    assert.ok((await pending) instanceof Error);
    await probe.until((p) => p.aborted.includes('abandoned'));
    assert.ok(!probe.finished.includes('abandoned'));
  });

  test('a client cannot cancel another client’s call by guessing ids', async () => {
    const running = postRpc(host, call(1, 'slow', { ms: 300, tag: 'victim' }));
    await probe.until((p) => p.started.includes('victim'));
    const cancels = Array.from({ length: 200 }, (_, i) => ({
      jsonrpc: '2.0',
      method: 'notifications/cancelled',
      params: { requestId: i, reason: 'hostile' },
    }));
    assert.equal((await post(host, cancels)).status, 202);
    for (const requestId of ['1', 1]) {
      const one = { jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId } };
      await post(host, one);
    }
    const answer = await running;
    assert.equal(answer.result?.content?.[0]?.text, 'done victim');
    assert.ok(!probe.aborted.includes('victim'));
  });

  test('survives garbage on the wire and in bodies', async () => {
    const { port } = new URL(host.url);
    const junk = [
      'GARBAGE\r\n\r\n',
      'POST /test HTTP/1.1\r\nHost: localhost\r\nContent-Length: abc\r\n\r\n',
      'POST /test HTTP/1.1\r\nHost: localhost\r\nContent-Length: 10\r\n\r\n{"a"',
      Buffer.from(Array.from({ length: 512 }, (_, i) => (i * 131) % 256)),
    ];
    for (const payload of junk) await rawExchange(port, payload, 50);
    const bodies = [
      '['.repeat(50_000) + ']'.repeat(50_000),
      JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: null }),
      JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: {} } }),
      '{"jsonrpc":"2.0","id":1,"method":"ping","__proto__":{"polluted":true}}',
      JSON.stringify({ jsonrpc: '2.0', id: 2 ** 60, method: 'ping' }),
      '\u0000\u0001',
    ];
    for (const body of bodies) {
      const res = await post(host, body);
      assert.ok(res.status < 500, `${res.status} for ${body.slice(0, 40)}`);
    }
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
    assert.deepEqual(await postRpc(host, { jsonrpc: '2.0', id: 'alive', method: 'ping' }), {
      jsonrpc: '2.0',
      id: 'alive',
      result: {},
    });
  });
});

describe('servers host: shutdown', () => {
  test('close() lets in-flight calls finish and stops accepting new ones', async () => {
    const probe = new SlowToolProbe();
    const host = await startTestHost([testServerFactory(probe)], { SHUTDOWN_TIMEOUT_MS: '5000' });
    // fetch keeps its connection alive: the drain must not wait for that idle socket to time out.
    const fetchRpc = async (body: unknown) => {
      const res = await fetch(`${host.url}/test`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: JSON_AND_SSE },
        body: JSON.stringify(body),
      });
      return (await res.json()) as RpcResponse;
    };
    await fetchRpc({ jsonrpc: '2.0', id: 0, method: 'ping' });
    const inflight = fetchRpc(call(1, 'slow', { ms: 400, tag: 'draining' }));
    await probe.until((p) => p.started.includes('draining'));
    const started = Date.now();
    const closed = host.close();
    await sleep(20);
    await assert.rejects(post(host, { jsonrpc: '2.0', id: 2, method: 'ping' }), {
      code: 'ECONNREFUSED',
    });
    const answer = await inflight;
    assert.equal(answer.result?.content?.[0]?.text, 'done draining');
    await closed;
    const took = Date.now() - started;
    assert.ok(took >= 300, 'close waited for the in-flight call');
    assert.ok(took < 2_000, `close took ${took} ms: an idle keep-alive socket held it open`);
  });

  test('close() cuts calls still running at SHUTDOWN_TIMEOUT_MS and aborts them', async () => {
    const probe = new SlowToolProbe();
    const host = await startTestHost([testServerFactory(probe)], { SHUTDOWN_TIMEOUT_MS: '200' });
    const inflight = post(host, call(1, 'slow', { ms: 20_000, tag: 'stuck' })).catch(
      (err: unknown) => err,
    );
    await probe.until((p) => p.started.includes('stuck'));
    const started = Date.now();
    await host.close();
    assert.ok(Date.now() - started < 2_000, 'close did not wait for the stuck call');
    assert.ok((await inflight) instanceof Error, 'the stuck call was cut');
    await probe.until((p) => p.aborted.includes('stuck'));
  });
});

describe('portcullis servers (the CLI process)', () => {
  test('drains an in-flight call on SIGTERM and exits 0', async (t) => {
    const key = await newSigningKey();
    const jwks = await startJwksServer([key]);
    t.after(() => jwks.close());
    jwks.delay(400); // keeps the whoami call in flight while the signal arrives
    const cli = await spawnCli('servers', {
      ASSERTION_JWKS_URL: jwks.url.href,
      ASSERTION_ISSUERS: ISSUER,
    });
    t.after(() => {
      if (cli.child.exitCode === null) cli.child.kill('SIGKILL');
    });
    assert.match(cli.url, /^http:\/\/127\.0\.0\.1:\d+$/);

    const client = await connectClient(`${cli.url}/whoami`, {
      'X-Pomerium-Jwt-Assertion': await signAssertion(key),
    });
    const answer = client.callTool({ name: 'whoami', arguments: {} });
    while (jwks.hits === 0) await sleep(5);
    cli.child.kill('SIGTERM');
    const result = await answer;
    assert.deepEqual((result.structuredContent as { sub?: string }).sub, 'user-8f2c');
    await client.close();

    assert.deepEqual(await cli.exited, { code: 0, signal: null });
    const messages = cli.logs.map((l) => l.msg);
    assert.ok(messages.includes('servers host stopped'), JSON.stringify(messages));
  });
});
