/**
 * The gateway's proxy, end to end: SSE streams cross as they are written, client aborts reach
 * the upstream, a dead upstream is a JSON-RPC error, and the upstream sees exactly the headers
 * it should (REFERENCE §2: the gateway's own assertion, no client Authorization or Origin on
 * mcp.server routes, X-Forwarded-*, no hop-by-hop fields, Mcp-Session-Id both ways).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createAssertionVerifier } from '../src/assertion/verify.js';
import { hashPassword } from '../src/core/crypto.js';
import {
  cookie,
  gatewayYamlHead,
  json,
  mcpPost,
  openStream,
  send,
  signIn,
  startTestGateway,
  TEST_COOKIE_SECRET,
  TEST_SHARED_SECRET,
  toolCall,
  type TestGateway,
} from './support/gateway.js';
import {
  startJsonRpcUpstream,
  type HeldStream,
  type JsonRpcUpstream,
} from './support/jsonrpc-upstream.js';
import { DEAD_UPSTREAM } from './support/dead-upstream.js';

const ADA = 'ada@example.com';
const PASSWORD = 'gateway-proxy-password';

function configYaml(port: number, upstream: string, dead: string, hash: string): string {
  return `
${gatewayYamlHead(port)}
databroker_storage_type: memory
builtin_users:
  - { email: ${ADA}, name: Ada Admin, groups: [admins], password_hash: '${hash}' }
routes:
  - from: http://localhost:${port}
    prefix: /mcp
    to: ${upstream}/mcp
    name: Streams
    pass_identity_headers: true
    policy:
      - allow: { and: [{ domain: { is: example.com } }] }
      - deny: { or: [{ mcp_tool: { in: [update, delete_all] } }] }
    mcp: { server: {} }
  - from: http://localhost:${port}
    prefix: /dead
    to: ${dead}/mcp
    name: Dead
    allow_any_authenticated_user: true
    mcp: { server: {} }
  - from: http://localhost:${port}
    prefix: /timed
    to: ${upstream}/mcp
    name: Timed
    timeout: 300ms
    allow_any_authenticated_user: true
    mcp: { server: {} }
  - from: http://localhost:${port}
    prefix: /web
    to: ${upstream}/web
    name: Web
    allow_any_authenticated_user: true
  - from: http://localhost:${port}
    prefix: /kept-host
    to: ${upstream}/web
    name: Kept host
    preserve_host_header: true
    allow_any_authenticated_user: true
`;
}

function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

describe('gateway proxy, end to end', () => {
  let upstream: JsonRpcUpstream;
  let gw: TestGateway;
  let ada = '';

  before(async () => {
    upstream = await startJsonRpcUpstream();
    const hash = await hashPassword(PASSWORD);
    const dead = DEAD_UPSTREAM;
    gw = await startTestGateway((port) => configYaml(port, upstream.url, dead, hash));
    ada = await signIn(gw.origin, ADA, PASSWORD);
  });
  after(async () => {
    await gw?.close();
    await upstream?.close();
  });

  /** The headers of the one request the upstream received. */
  const seen = () => {
    assert.equal(upstream.requests.length, 1, 'the upstream got exactly one request');
    return upstream.requests[0]!.headers;
  };
  const streamPost = (body: unknown) =>
    openStream(gw.origin, {
      method: 'POST',
      path: '/mcp',
      headers: {
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
        ...cookie(ada),
      },
      body: JSON.stringify(body),
    });

  describe('SSE', () => {
    it('passes an event while the upstream keeps the stream open', async (t) => {
      upstream.fresh();
      upstream.mode = 'sse';
      upstream.hold = true;
      const stream = await streamPost(toolCall(1, 'echo', { value: 'x' }));
      const held = await upstream.nextHeldStream();
      try {
        assert.equal(stream.status, 200);
        assert.match(String(stream.headers['content-type']), /^text\/event-stream/);
        // The answer written before the hold is already through.
        await stream.next((e) => (e.data as { id?: number } | undefined)?.id === 1);
        const sentAt = performance.now();
        held.send(
          { jsonrpc: '2.0', method: 'notifications/progress', params: { progress: 1 } },
          { event: 'message' },
        );
        const event = await stream.next(
          (e) => (e.data as { method?: string } | undefined)?.method === 'notifications/progress',
        );
        t.diagnostic(`SSE event crossed the gateway in ${(event.at - sentAt).toFixed(2)} ms`);
        assert.equal(stream.isEnded(), false, 'the client stream ended with the upstream open');
      } finally {
        held.end();
      }
      await within(stream.ended, 5_000, 'the stream ends after the upstream ends it');
    });

    it('passes events on a filtered tools/list stream as they come, not at its end', async () => {
      upstream.fresh();
      upstream.mode = 'sse';
      upstream.hold = true;
      const stream = await streamPost({ jsonrpc: '2.0', id: 2, method: 'tools/list' });
      const held = await upstream.nextHeldStream();
      try {
        const list = await stream.next((e) => (e.data as { id?: number } | undefined)?.id === 2);
        const tools = (list.data as { result: { tools: { name: string }[] } }).result.tools;
        assert.deepEqual(
          tools.map((tool) => tool.name),
          ['read', 'echo'],
        );
        held.send({ jsonrpc: '2.0', method: 'notifications/tools/list_changed' });
        await stream.next(
          (e) =>
            (e.data as { method?: string } | undefined)?.method ===
            'notifications/tools/list_changed',
        );
        assert.equal(stream.isEnded(), false);
      } finally {
        held.end();
      }
      await within(stream.ended, 5_000, 'the stream ends');
    });

    it('passes events of the standalone GET stream while it stays open', async () => {
      upstream.fresh();
      const stream = await openStream(gw.origin, {
        path: '/mcp',
        headers: { accept: 'text/event-stream', ...cookie(ada) },
      });
      const held = await upstream.nextHeldStream();
      try {
        assert.equal(stream.status, 200);
        assert.equal(held.request.method, 'GET');
        held.send({ jsonrpc: '2.0', method: 'notifications/resources/updated' }, { id: 'e1' });
        const event = await stream.next((e) => e.raw.includes('notifications/resources/updated'));
        assert.match(event.raw, /^id: e1\n/);
        assert.equal(stream.isEnded(), false);
      } finally {
        held.end();
      }
      await within(stream.ended, 5_000, 'the stream ends');
    });

    it('keeps an active SSE stream open past the route timeout (REFERENCE §3)', async () => {
      upstream.fresh();
      upstream.mode = 'sse';
      upstream.hold = true;
      const stream = await openStream(gw.origin, {
        method: 'POST',
        path: '/timed',
        headers: {
          'content-type': 'application/json',
          accept: 'application/json, text/event-stream',
          ...cookie(ada),
        },
        body: JSON.stringify(toolCall(9, 'echo')),
      });
      const held = await upstream.nextHeldStream();
      try {
        assert.equal(stream.status, 200);
        // Five events 150 ms apart: the stream lives 750 ms on a route with a 300 ms timeout.
        for (let i = 1; i <= 5; i++) {
          await new Promise((resolve) => setTimeout(resolve, 150));
          held.send({ jsonrpc: '2.0', method: 'notifications/progress', params: { progress: i } });
          await stream.next(
            (e) =>
              (e.data as { params?: { progress?: number } } | undefined)?.params?.progress === i,
          );
        }
        assert.equal(stream.isEnded(), false, 'the route timeout cut an active stream');
      } finally {
        held.end();
      }
      await within(stream.ended, 5_000, 'the stream ends');
    });
  });

  it('cancels the upstream request when the client goes away', async () => {
    upstream.fresh();
    upstream.mode = 'sse';
    upstream.hold = true;
    const stream = await streamPost(toolCall(3, 'echo'));
    const held: HeldStream = await upstream.nextHeldStream();
    await stream.next((e) => (e.data as { id?: number } | undefined)?.id === 3);
    stream.abort();
    const closed = await within(held.closed, 5_000, 'the upstream request is cancelled');
    assert.equal(closed.aborted, true);
  });

  it('answers a JSON-RPC error with 502 when the upstream is unreachable', async () => {
    upstream.fresh();
    const res = await mcpPost(gw.origin, '/dead', toolCall('dead-1', 'read'), { session: ada });
    assert.equal(res.status, 502, res.body);
    assert.match(String(res.headers['content-type']), /^application\/json/);
    const body = json(res);
    assert.equal(body.jsonrpc, '2.0');
    assert.equal(body.id, 'dead-1');
    assert.equal((body.error as { code: number }).code, -32603);
    assert.ok(!res.body.includes('127.0.0.1'), 'the upstream address reached the client');
  });

  describe('headers the upstream sees', () => {
    it('refuses a foreign Origin with 403 before forwarding; a same-origin one is not passed on', async () => {
      upstream.fresh();
      for (const origin of ['https://evil.example', 'http://localhost:1', 'null']) {
        const res = await mcpPost(gw.origin, '/mcp', toolCall(1, 'read'), {
          session: ada,
          headers: { origin },
        });
        assert.equal(res.status, 403, `${origin}: ${res.body}`);
      }
      assert.equal(upstream.requests.length, 0);
      const same = await mcpPost(gw.origin, '/mcp', toolCall(2, 'read'), {
        session: ada,
        headers: { origin: gw.origin },
      });
      assert.equal(same.status, 200, same.body);
      assert.equal(seen().origin, undefined);
      upstream.reset();
      const none = await mcpPost(gw.origin, '/mcp', toolCall(3, 'read'), { session: ada });
      assert.equal(none.status, 200);
      assert.equal(seen().origin, undefined);
    });

    it('refuses a bad Authorization on an mcp.server route even beside a session, forwarding nothing', async () => {
      upstream.fresh();
      for (const authorization of ['Bearer x', 'Basic YWRhOnB3']) {
        const res = await mcpPost(gw.origin, '/mcp', toolCall(4, 'read'), {
          session: ada,
          headers: { authorization, 'x-client-note': 'kept' },
        });
        assert.equal(res.status, 401, res.body);
        assert.match(String(res.headers['www-authenticate']), /error="invalid_token"/);
      }
      assert.equal(upstream.requests.length, 0);
      // Other client headers do arrive on an accepted request (the token case: test/oauth-*).
      const ok = await mcpPost(gw.origin, '/mcp', toolCall(4, 'read'), {
        session: ada,
        headers: { 'x-client-note': 'kept' },
      });
      assert.equal(ok.status, 200, ok.body);
      assert.equal(seen()['x-client-note'], 'kept');
      assert.equal(seen().authorization, undefined);
    });

    it('replaces a client X-Pomerium-Jwt-Assertion with its own, for this route and user', async () => {
      upstream.fresh();
      const forged = 'eyJhbGciOiJub25lIn0.eyJlbWFpbCI6ImV2ZUBleGFtcGxlLmNvbSJ9.';
      const res = await mcpPost(gw.origin, '/mcp', toolCall(5, 'read'), {
        session: ada,
        headers: { 'x-pomerium-jwt-assertion': forged, 'x-pomerium-claim-email': 'eve' },
      });
      assert.equal(res.status, 200, res.body);
      const headers = seen();
      assert.equal(headers['x-pomerium-claim-email'], undefined);
      const assertion = headers['x-pomerium-jwt-assertion'];
      assert.ok(typeof assertion === 'string' && assertion !== forged);
      const verify = createAssertionVerifier({
        jwksUrl: new URL('/.well-known/pomerium/jwks.json', gw.origin),
        issuers: ['localhost'],
        audience: 'localhost',
      });
      const identity = await verify(assertion);
      assert.equal(identity.email, ADA);
      assert.equal(identity.claims.iss, 'localhost');
      assert.equal(identity.claims.aud, 'localhost');
      assert.deepEqual(identity.groups, ['admins']);

      // A route that passes no identity headers drops the client's copy too.
      upstream.reset();
      const web = await send(gw.origin, {
        path: '/web/page',
        headers: { 'x-pomerium-jwt-assertion': forged, ...cookie(ada) },
      });
      assert.equal(web.status, 200, web.body);
      assert.equal(seen()['x-pomerium-jwt-assertion'], undefined);
    });

    it('sets X-Forwarded-For/Proto/Host, replacing what an untrusted client sent', async () => {
      upstream.fresh();
      const res = await mcpPost(gw.origin, '/mcp', toolCall(6, 'read'), {
        session: ada,
        headers: {
          'x-forwarded-for': '203.0.113.9',
          'x-forwarded-proto': 'https',
          'x-forwarded-host': 'evil.example',
          forwarded: 'for=203.0.113.9',
        },
      });
      assert.equal(res.status, 200, res.body);
      const headers = seen();
      assert.equal(headers['x-forwarded-for'], '127.0.0.1');
      assert.equal(headers['x-forwarded-proto'], 'http');
      assert.equal(headers['x-forwarded-host'], `localhost:${gw.port}`);
      assert.equal(headers.forwarded, undefined);
      assert.equal(headers.host, new URL(upstream.url).host);
    });

    it('sends the client’s Host upstream only on a preserve_host_header route', async () => {
      upstream.fresh();
      const kept = await send(gw.origin, { path: '/kept-host/page', headers: cookie(ada) });
      assert.equal(kept.status, 200, kept.body);
      assert.equal(seen().host, `localhost:${gw.port}`);
      upstream.reset();
      const replaced = await send(gw.origin, { path: '/web/page', headers: cookie(ada) });
      assert.equal(replaced.status, 200, replaced.body);
      assert.equal(seen().host, new URL(upstream.url).host);
    });

    it('believes X-Forwarded-* only from a peer in trusted_proxies', async () => {
      const trusting = await startTestGateway(
        (port) => `
address: 127.0.0.1:${port}
insecure_server: true
shared_secret: ${TEST_SHARED_SECRET}
cookie_secret: ${TEST_COOKIE_SECRET}
databroker_storage_type: memory
trusted_proxies: [127.0.0.1/32]
routes:
  - from: http://localhost:${port}
    prefix: /web
    to: ${upstream.url}/web
    allow_public_unauthenticated_access: true
`,
      );
      try {
        upstream.fresh();
        const res = await send(trusting.origin, {
          path: '/web/page',
          headers: { 'x-forwarded-for': '203.0.113.9', 'x-forwarded-proto': 'https' },
        });
        assert.equal(res.status, 200, res.body);
        assert.equal(seen()['x-forwarded-for'], '203.0.113.9, 127.0.0.1');
        assert.equal(seen()['x-forwarded-proto'], 'https');
      } finally {
        await trusting.close();
      }
    });

    it('strips hop-by-hop fields both ways', async () => {
      upstream.fresh();
      upstream.responseHeaders = {
        connection: 'x-upstream-hop',
        'x-upstream-hop': 'secret',
        'keep-alive': 'timeout=5',
        'x-upstream-kept': 'yes',
      };
      const res = await mcpPost(gw.origin, '/mcp', toolCall(7, 'read'), {
        session: ada,
        headers: {
          connection: 'keep-alive, x-client-hop',
          'x-client-hop': 'secret',
          'keep-alive': 'timeout=5',
          'proxy-authorization': 'Basic c2VjcmV0',
          'proxy-connection': 'keep-alive',
          te: 'gzip',
          'x-client-kept': 'yes',
        },
      });
      assert.equal(res.status, 200, res.body);
      const headers = seen();
      for (const name of [
        'x-client-hop',
        'keep-alive',
        'proxy-authorization',
        'proxy-connection',
        'te',
      ]) {
        assert.equal(headers[name], undefined, `${name} reached the upstream`);
      }
      assert.doesNotMatch(String(headers.connection), /x-client-hop/);
      assert.equal(headers['x-client-kept'], 'yes');
      assert.equal(res.headers['x-upstream-hop'], undefined, 'x-upstream-hop reached the client');
      assert.doesNotMatch(String(res.headers.connection), /x-upstream-hop/);
      assert.equal(res.headers['x-upstream-kept'], 'yes');
    });

    it('tags every answer with its request id, the upstream told it and its own id replaced', async () => {
      const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
      upstream.fresh();
      upstream.responseHeaders = { 'x-request-id': 'id-of-the-upstream' };
      const forwarded = await mcpPost(gw.origin, '/mcp', toolCall(9, 'read'), { session: ada });
      assert.equal(forwarded.status, 200, forwarded.body);
      const id = String(forwarded.headers['x-request-id']);
      assert.match(id, UUID);
      assert.equal(seen()['x-request-id'], id, 'the upstream is sent the id the client gets');

      // A plausible client id is kept both ways; an implausible one is replaced.
      upstream.reset();
      const kept = await mcpPost(gw.origin, '/mcp', toolCall(10, 'read'), {
        session: ada,
        headers: { 'x-request-id': 'client-chosen.id-1' },
      });
      assert.equal(kept.headers['x-request-id'], 'client-chosen.id-1');
      assert.equal(seen()['x-request-id'], 'client-chosen.id-1');
      upstream.reset();
      const odd = await mcpPost(gw.origin, '/mcp', toolCall(11, 'read'), {
        session: ada,
        headers: { 'x-request-id': 'not an id; ' + 'x'.repeat(200) },
      });
      assert.match(String(odd.headers['x-request-id']), UUID);
      assert.equal(seen()['x-request-id'], odd.headers['x-request-id']);

      // The gateway's own answers: a denial, an upstream failure, no route, an OAuth error.
      const denied = await mcpPost(gw.origin, '/mcp', toolCall(12, 'update'), { session: ada });
      const failed = await mcpPost(gw.origin, '/dead', toolCall(13, 'read'), { session: ada });
      const missing = await send(gw.origin, { path: '/nowhere' });
      const oauth = await send(gw.origin, {
        method: 'POST',
        path: '/.pomerium/mcp/token',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: 'grant_type=password',
      });
      for (const [what, res, status] of [
        ['denial', denied, 200],
        ['upstream failure', failed, 502],
        ['no route', missing, 404],
        ['OAuth error', oauth, 400],
      ] as const) {
        assert.equal(res.status, status, `${what}: ${res.body}`);
        assert.match(String(res.headers['x-request-id']), UUID, what);
      }
      const stream = await streamPost(toolCall(14, 'read'));
      assert.match(String(stream.headers['x-request-id']), UUID, 'an event stream');
      await within(stream.ended, 5_000, 'the stream ends');
    });

    it('passes Mcp-Session-Id both ways', async () => {
      upstream.fresh();
      upstream.responseHeaders = { 'mcp-session-id': 'session-from-upstream' };
      const res = await mcpPost(gw.origin, '/mcp', toolCall(8, 'read'), {
        session: ada,
        headers: { 'mcp-session-id': 'session-from-client' },
      });
      assert.equal(res.status, 200, res.body);
      assert.equal(seen()['mcp-session-id'], 'session-from-client');
      assert.equal(res.headers['mcp-session-id'], 'session-from-upstream');
    });
  });
});
