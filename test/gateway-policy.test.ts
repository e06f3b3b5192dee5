/**
 * Policy through the real gateway (YAML config, built-in sign-in over HTTP, a bare JSON-RPC
 * upstream that records what reaches it). Where Pomerium fails open (REFERENCE §3: batches,
 * oversized or non-JSON bodies), the gateway must refuse before anything is forwarded; tools/list
 * shows only the tools the caller may call; every decision is logged without secrets.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { hashPassword } from '../src/core/crypto.js';
import {
  cookie,
  gatewayYamlHead,
  json,
  mcpPost,
  send,
  signIn,
  startTestGateway,
  toolCall,
  type Sent,
  type TestGateway,
} from './support/gateway.js';
import { startJsonRpcUpstream, type JsonRpcUpstream } from './support/jsonrpc-upstream.js';

const PASSWORD = 'gateway-policy-password';
const ADA = 'ada@example.com'; // example.com, group admins
const BOB = 'bob@example.com'; // example.com, group staff
const EVE = 'eve@elsewhere.test'; // another domain

function configYaml(port: number, upstream: string, hash: string): string {
  return `
${gatewayYamlHead(port)}
databroker_storage_type: memory
builtin_users:
  - { email: ${ADA}, name: Ada Admin, groups: [admins], password_hash: '${hash}' }
  - { email: ${BOB}, name: Bob Staff, groups: [staff], password_hash: '${hash}' }
  - { email: ${EVE}, name: Eve Outside, groups: [admins], password_hash: '${hash}' }
routes:
  - from: http://localhost:${port}
    prefix: /sqlite
    to: ${upstream}/mcp
    name: DB
    pass_identity_headers: true
    policy:
      - allow: { and: [{ domain: { is: example.com } }] }
      - deny: { or: [{ mcp_tool: { in: [update, delete_all] } }] }
    mcp:
      server:
        max_request_bytes: 4096
  - from: http://localhost:${port}
    prefix: /team
    to: ${upstream}/team
    name: Team
    policy:
      - allow: { or: [{ groups: { has: admins } }] }
      - deny: { or: [{ claim/email: { ends_with: '@elsewhere.test' } }] }
    mcp: { server: {} }
  - from: http://localhost:${port}
    prefix: /admin
    to: ${upstream}/admin
    name: Admin UI
    policy:
      - allow: { or: [{ groups: { has: admins } }] }
  - from: http://localhost:${port}
    prefix: /app
    to: ${upstream}/app
    name: App
    policy:
      - allow: { and: [{ domain: { is: example.com } }] }
  - from: http://localhost:${port}
    prefix: /public
    to: ${upstream}/public
    name: Public
    allow_public_unauthenticated_access: true
`;
}

/** The JSON-RPC error of a single-message answer. */
function rpcError(res: Sent): { id: unknown; code: number; message: string; data?: unknown } {
  const body = json(res);
  const error = body.error as { code: number; message: string; data?: unknown } | undefined;
  assert.ok(error, `expected a JSON-RPC error, got ${res.status} ${res.body}`);
  return { id: body.id, ...error };
}

describe('gateway policy, end to end', () => {
  let upstream: JsonRpcUpstream;
  let gw: TestGateway;
  let ada = '';
  let bob = '';
  let eve = '';

  before(async () => {
    upstream = await startJsonRpcUpstream();
    const hash = await hashPassword(PASSWORD);
    gw = await startTestGateway((port) => configYaml(port, upstream.url, hash));
    ada = await signIn(gw.origin, ADA, PASSWORD);
    bob = await signIn(gw.origin, BOB, PASSWORD);
    eve = await signIn(gw.origin, EVE, PASSWORD);
    upstream.reset();
  });
  after(async () => {
    await gw?.close();
    await upstream?.close();
  });

  describe('mcp_tool deny holds', () => {
    it('refuses a denied call with HTTP 200 and a JSON-RPC error carrying its id; nothing is forwarded', async () => {
      upstream.fresh();
      for (const [id, tool] of [
        [7, 'update'],
        ['call-x', 'delete_all'],
      ] as const) {
        const res = await mcpPost(gw.origin, '/sqlite', toolCall(id, tool), { session: ada });
        assert.equal(res.status, 200, res.body);
        const error = rpcError(res);
        assert.equal(error.id, id);
        assert.equal(error.code, -32602);
        assert.match(error.message, /denied/);
      }
      assert.equal(upstream.requests.length, 0, 'the upstream saw a denied call');
    });

    it('refuses a whole batch when one call in it is denied; the upstream sees nothing', async () => {
      upstream.fresh();
      const batch = [
        toolCall(1, 'read'),
        { jsonrpc: '2.0', method: 'notifications/progress', params: {} },
        toolCall(2, 'delete_all'),
        toolCall(3, 'echo', { value: 'hi' }),
      ];
      const res = await mcpPost(gw.origin, '/sqlite', batch, { session: ada });
      assert.equal(res.status, 200, res.body);
      const answers = JSON.parse(res.body) as { id: unknown; error?: { code: number } }[];
      assert.ok(Array.isArray(answers));
      assert.deepEqual(
        answers.map((a) => [a.id, a.error?.code]),
        [
          [1, -32602],
          [2, -32602],
          [3, -32602],
        ],
      );
      assert.equal(upstream.requests.length, 0);
    });

    it('answers 413 to a body over max_request_bytes, declared or chunked, and forwards nothing', async () => {
      upstream.fresh();
      const padded = (tool: string) => JSON.stringify(toolCall(9, tool, { pad: 'x'.repeat(5000) }));
      // Declared length over the limit; the call itself would be allowed.
      const declared = await mcpPost(gw.origin, '/sqlite', padded('read'), { session: ada });
      assert.equal(declared.status, 413, declared.body);
      assert.equal(rpcError(declared).code, -32600);
      // No length declared: the gateway counts as the body streams in.
      const body = padded('update');
      const chunked = await send(gw.origin, {
        method: 'POST',
        path: '/sqlite',
        headers: {
          'content-type': 'application/json',
          accept: 'application/json, text/event-stream',
          ...cookie(ada),
        },
        body: [body.slice(0, 2000), body.slice(2000, 4000), body.slice(4000)],
      });
      assert.equal(chunked.status, 413, chunked.body);
      assert.equal(upstream.requests.length, 0);
    });

    it('answers 415 to a body that is not application/json', async () => {
      upstream.fresh();
      for (const type of ['text/plain', 'application/x-www-form-urlencoded', undefined]) {
        const res = await mcpPost(gw.origin, '/sqlite', toolCall(4, 'update'), {
          session: ada,
          headers: { 'content-type': type },
        });
        assert.equal(res.status, 415, `${type}: ${res.body}`);
      }
      // A JSON body the client labels otherwise, carrying an allowed call: still refused.
      const allowed = await mcpPost(gw.origin, '/sqlite', toolCall(5, 'read'), {
        session: ada,
        headers: { 'content-type': 'text/plain' },
      });
      assert.equal(allowed.status, 415);
      assert.equal(upstream.requests.length, 0);
    });

    it('answers 400 to duplicate keys and __proto__, which parsers read differently', async () => {
      upstream.fresh();
      const bodies = [
        '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"read","name":"update"}}',
        '{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"update","name":"read"}}',
        '{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"read","__proto__":{"name":"update"}}}',
        '{"jsonrpc":"2.0","id":4,"method":"tools/call","method":"tools/list","params":{"name":"update"}}',
      ];
      for (const body of bodies) {
        const res = await mcpPost(gw.origin, '/sqlite', body, { session: ada });
        assert.equal(res.status, 400, `${body}: ${res.status} ${res.body}`);
        assert.equal(json(res).jsonrpc, '2.0');
      }
      assert.equal(upstream.requests.length, 0);
    });

    it('answers 400 when params.name of tools/call is not a string', async () => {
      upstream.fresh();
      for (const name of [['update'], { toString: 'update' }, 42, null, undefined]) {
        const res = await mcpPost(gw.origin, '/sqlite', toolCall(6, name), { session: ada });
        assert.equal(res.status, 400, `${JSON.stringify(name)}: ${res.body}`);
        assert.equal(rpcError(res).code, -32602);
        assert.equal(rpcError(res).id, 6);
      }
      assert.equal(upstream.requests.length, 0);
    });

    it('answers 400 when Mcp-Method or Mcp-Name disagree with the body', async () => {
      upstream.fresh();
      const cases: [Record<string, string>, unknown][] = [
        // The headers name an allowed tool, the body a denied one, and the other way round.
        [{ 'mcp-method': 'tools/call', 'mcp-name': 'read' }, toolCall(1, 'update')],
        [{ 'mcp-method': 'tools/call', 'mcp-name': 'update' }, toolCall(2, 'read')],
        [{ 'mcp-method': 'tools/list' }, toolCall(3, 'read')],
        [{ 'mcp-name': 'echo' }, toolCall(4, 'read')],
        [{ 'mcp-method': 'tools/call' }, toolCall(5, 'read')],
      ];
      for (const [headers, body] of cases) {
        const res = await mcpPost(gw.origin, '/sqlite', body, { session: ada, headers });
        assert.equal(res.status, 400, `${JSON.stringify(headers)}: ${res.body}`);
        assert.equal(rpcError(res).code, -32020);
      }
      assert.equal(upstream.requests.length, 0);
      // Headers that agree pass.
      const agreeing = await mcpPost(gw.origin, '/sqlite', toolCall(6, 'read'), {
        session: ada,
        headers: { 'mcp-method': 'tools/call', 'mcp-name': 'read' },
      });
      assert.equal(agreeing.status, 200, agreeing.body);
      assert.equal(upstream.requests.length, 1);
    });

    it('forwards allowed calls, single and batched, byte for byte', async () => {
      upstream.fresh();
      const single = JSON.stringify(toolCall(11, 'echo', { value: 'hello' }));
      const res = await mcpPost(gw.origin, '/sqlite', single, { session: ada });
      assert.equal(res.status, 200, res.body);
      const result = json(res).result as { content: { text: string }[] };
      assert.deepEqual(JSON.parse(result.content[0]?.text ?? ''), {
        name: 'echo',
        arguments: { value: 'hello' },
      });
      const batch = JSON.stringify([toolCall(12, 'read'), toolCall(13, 'echo')]);
      const both = await mcpPost(gw.origin, '/sqlite', batch, { session: ada });
      assert.equal(both.status, 200, both.body);
      assert.deepEqual(
        (JSON.parse(both.body) as { id: number }[]).map((a) => a.id),
        [12, 13],
      );
      assert.deepEqual(
        upstream.requests.map((r) => [r.method, r.path, r.body]),
        [
          ['POST', '/mcp', single],
          ['POST', '/mcp', batch],
        ],
      );
    });

    it('applies groups and claim/ criteria: an admin passes with any tool, others are refused', async () => {
      upstream.fresh();
      const allowed = await mcpPost(gw.origin, '/team', toolCall(1, 'update'), { session: ada });
      assert.equal(allowed.status, 200, allowed.body);
      assert.equal(json(allowed).error, undefined);
      assert.equal(upstream.requests.length, 1);
      upstream.reset();
      // bob is not an admin; eve is, but her email claim is denied.
      for (const [session, reason, requestId] of [
        [bob, /groups/, 'team-bob'],
        [eve, /claim\/email/, 'team-eve'],
      ] as const) {
        const res = await mcpPost(gw.origin, '/team', toolCall(2, 'read'), {
          session,
          headers: { 'x-request-id': requestId },
        });
        assert.equal(res.status, 200, res.body);
        assert.equal(rpcError(res).code, -32602);
        const line = gw.logs.lines().find((l) => l.req_id === requestId);
        assert.match(String(line?.reason), reason);
      }
      // A domain-policy failure on the DB route is refused the same way.
      const outsider = await mcpPost(gw.origin, '/sqlite', toolCall(3, 'read'), { session: eve });
      assert.equal(rpcError(outsider).code, -32602);
      assert.equal(upstream.requests.length, 0);
    });
  });

  describe('tools/list is filtered', () => {
    const list = (id: number) => ({ jsonrpc: '2.0', id, method: 'tools/list', params: {} });
    const names = (message: unknown) =>
      ((message as { result: { tools: { name: string }[] } }).result.tools ?? []).map(
        (t) => t.name,
      );

    it('removes denied tools from a JSON answer', async () => {
      upstream.fresh();
      upstream.mode = 'json';
      const res = await mcpPost(gw.origin, '/sqlite', list(21), { session: ada });
      assert.equal(res.status, 200, res.body);
      assert.match(String(res.headers['content-type']), /^application\/json/);
      assert.deepEqual(names(json(res)), ['read', 'echo']);
      assert.equal(upstream.requests.length, 1);
      // On a route whose policy denies no tool, the same upstream list arrives whole.
      const team = await mcpPost(gw.origin, '/team', list(22), { session: ada });
      assert.deepEqual(names(json(team)), ['read', 'update', 'delete_all', 'echo']);
    });

    it('filters whatever the case of the answer’s media type (RFC 9110 §8.3.1)', async () => {
      upstream.fresh();
      upstream.mode = 'json';
      upstream.responseHeaders = { 'content-type': 'Application/JSON; charset=UTF-8' };
      const res = await mcpPost(gw.origin, '/sqlite', list(24), { session: ada });
      assert.equal(res.status, 200, res.body);
      assert.deepEqual(names(json(res)), ['read', 'echo']);
      upstream.mode = 'sse';
      upstream.responseHeaders = { 'content-type': 'Text/Event-Stream' };
      const sse = await mcpPost(gw.origin, '/sqlite', list(25), { session: ada });
      assert.equal(sse.status, 200, sse.body);
      assert.ok(!sse.body.includes('delete_all'), 'a denied tool crossed in the SSE stream');
      assert.match(sse.body, /"name":"read"/);
    });

    it('an answer in another media type is read as JSON, never passed unfiltered', async () => {
      upstream.fresh();
      upstream.mode = 'json';
      for (const type of ['text/plain', undefined]) {
        upstream.responseHeaders = type ? { 'content-type': type } : { 'content-type': '' };
        const res = await mcpPost(gw.origin, '/sqlite', list(26), { session: ada });
        assert.ok(!res.body.includes('delete_all'), `a denied tool crossed as ${type}`);
        assert.deepEqual(names(json(res)), ['read', 'echo']);
      }
    });

    it('removes denied tools from an SSE answer; the stream’s other events pass through', async () => {
      upstream.fresh();
      upstream.mode = 'sse';
      const res = await mcpPost(gw.origin, '/sqlite', list(23), { session: ada });
      assert.equal(res.status, 200, res.body);
      assert.match(String(res.headers['content-type']), /^text\/event-stream/);
      const events = res.body.split('\n\n').filter((e) => e !== '');
      assert.equal(events.length, 3, res.body);
      assert.equal(events[0], ': upstream comment');
      assert.match(events[1] ?? '', /^event: message\ndata: .*notifications\/message/);
      const [event, id, data] = (events[2] ?? '').split('\n');
      assert.equal(event, 'event: message');
      assert.equal(id, 'id: 1');
      const message = JSON.parse((data ?? '').replace(/^data: /, '')) as { id: number };
      assert.equal(message.id, 23);
      assert.deepEqual(names(message), ['read', 'echo']);
      assert.ok(!res.body.includes('delete_all'), 'a denied tool crossed in the SSE stream');
    });
  });

  describe('without a session, and when policy fails', () => {
    it('answers an MCP POST with 401, reason phrase Unauthorized', async () => {
      upstream.fresh();
      for (const tool of ['read', 'update']) {
        const res = await mcpPost(gw.origin, '/sqlite', toolCall(1, tool));
        assert.equal(res.status, 401, res.body);
        assert.equal(res.statusMessage, 'Unauthorized');
        assert.match(String(res.headers['content-type']), /^application\/json/);
      }
      // A forged cookie is nobody.
      const forged = await mcpPost(gw.origin, '/sqlite', toolCall(2, 'read'), {
        session: 'v1.forged.cookie.value',
      });
      assert.equal(forged.status, 401);
      assert.equal(upstream.requests.length, 0);
    });

    it('sends a browser GET on a non-MCP route to sign in (302); an API GET gets 401', async () => {
      upstream.fresh();
      const page = await send(gw.origin, {
        path: '/app/page?x=1',
        headers: { accept: 'text/html' },
      });
      assert.equal(page.status, 302);
      const location = new URL(page.headers.location ?? '', gw.origin);
      assert.equal(location.origin, gw.origin);
      assert.equal(location.pathname, '/.pomerium/idp/auth');
      const api = await send(gw.origin, { path: '/app/api', headers: { accept: '*/*' } });
      assert.equal(api.status, 401);
      assert.equal(upstream.requests.length, 0);
    });

    it('answers 403 on non-MCP routes to a signed-in user the policy refuses', async () => {
      upstream.fresh();
      const html = { accept: 'text/html' };
      const eveApp = await send(gw.origin, { path: '/app/', headers: { ...html, ...cookie(eve) } });
      assert.equal(eveApp.status, 403, eveApp.body);
      const bobAdmin = await send(gw.origin, {
        path: '/admin/',
        headers: { ...html, ...cookie(bob) },
      });
      assert.equal(bobAdmin.status, 403, bobAdmin.body);
      assert.equal(upstream.requests.length, 0);
      // The same requests by someone the policy allows reach the upstream.
      const adaAdmin = await send(gw.origin, {
        path: '/admin/',
        headers: { ...html, ...cookie(ada) },
      });
      assert.equal(adaAdmin.status, 200, adaAdmin.body);
      assert.deepEqual(
        upstream.requests.map((r) => r.path),
        ['/admin/'],
      );
    });

    it('serves a public route without a session, with no identity', async () => {
      upstream.fresh();
      const res = await send(gw.origin, { path: '/public/hello' });
      assert.equal(res.status, 200, res.body);
      assert.equal(upstream.requests.length, 1);
      assert.equal(upstream.requests[0]?.path, '/public/hello');
      assert.equal(upstream.requests[0]?.headers['x-pomerium-jwt-assertion'], undefined);
    });
  });

  it('refuses dot segments and encoded slashes with 400 before route matching', async () => {
    upstream.fresh();
    const paths = [
      '/sqlite/../admin/',
      '/sqlite/%2e%2e/admin/',
      '/sqlite/%2E%2E/admin/',
      '/sqlite/.%2e/admin/',
      '/sqlite%2f..%2fadmin/',
      '/admin%2fx',
      '/public/../admin/',
      '/public/./x',
      '/public/%5c..%5cadmin',
    ];
    for (const path of paths) {
      for (const method of ['GET', 'POST']) {
        const res = await send(gw.origin, {
          method,
          path,
          headers: { 'content-type': 'application/json', ...cookie(ada) },
          ...(method === 'POST' ? { body: JSON.stringify(toolCall(1, 'read')) } : {}),
        });
        assert.equal(res.status, 400, `${method} ${path}: ${res.status} ${res.body}`);
      }
    }
    assert.equal(upstream.requests.length, 0);
  });

  describe('audit line', () => {
    const auditOf = (reqId: string) =>
      gw.logs.lines().filter((l) => l.req_id === reqId && l.audit === true && l.msg === 'audit');

    it('logs a denied call with req_id, route, user, mcp_method, tool, decision deny and the rule', async () => {
      upstream.fresh();
      const res = await mcpPost(gw.origin, '/sqlite', toolCall(31, 'delete_all'), {
        session: ada,
        headers: { 'x-request-id': 'policy-test-deny-31' },
      });
      assert.equal(res.headers['x-request-id'], 'policy-test-deny-31');
      // The client is told where to look, never why.
      assert.deepEqual(rpcError(res).data, { request_id: 'policy-test-deny-31' });
      const lines = auditOf('policy-test-deny-31');
      assert.equal(lines.length, 1, JSON.stringify(lines));
      const line = lines[0]!;
      assert.equal(line.route, 'DB');
      assert.deepEqual(line.user, {
        sub: (line.user as { sub: string }).sub,
        email: ADA,
        groups: ['admins'],
      });
      assert.equal(line.client, null, 'a session cookie names no MCP client');
      assert.equal(line.mcp_method, 'tools/call');
      assert.equal(line.tool, 'delete_all');
      assert.equal(line.decision, 'deny');
      assert.equal(line.rule, 'policy[1]', 'the deny rule (policy[1]) decided');
      assert.equal(line.upstream_status, null);
      assert.match(String(line.reason), /mcp_tool/);
      assert.ok(!res.body.includes(String(line.reason)), 'the reason reached the client');
    });

    it('a refused batch logs its denied call; an allowed one logs each tool call with the upstream status', async () => {
      upstream.fresh();
      await mcpPost(gw.origin, '/sqlite', [toolCall(41, 'read'), toolCall(42, 'update')], {
        session: ada,
        headers: { 'x-request-id': 'policy-test-batch' },
      });
      assert.deepEqual(
        auditOf('policy-test-batch').map((l) => [l.tool, l.decision, l.rule]),
        [['update', 'deny', 'policy[1]']],
      );
      await mcpPost(gw.origin, '/sqlite', [toolCall(43, 'read'), toolCall(44, 'list')], {
        session: ada,
        headers: { 'x-request-id': 'policy-test-batch-ok' },
      });
      assert.deepEqual(
        auditOf('policy-test-batch-ok').map((l) => [l.tool, l.decision, l.rule, l.upstream_status]),
        [
          ['read', 'allow', 'policy[0]', 200],
          ['list', 'allow', 'policy[0]', 200],
        ],
      );
    });

    it('a plain route denied by default names default-deny', async () => {
      const res = await send(gw.origin, {
        path: '/admin/page',
        headers: { ...cookie(bob), 'x-request-id': 'policy-test-admin' },
      });
      assert.equal(res.status, 403);
      const [line] = auditOf('policy-test-admin');
      assert.equal(line?.rule, 'default-deny');
      assert.equal(line?.decision, 'deny');
      assert.equal(line?.mcp_method, null);
    });

    it('never writes the session cookie, the assertion or the Authorization value to the log', async () => {
      upstream.fresh();
      const bearer = 'client-bearer-token-that-must-not-be-logged';
      const ok = await mcpPost(gw.origin, '/sqlite', toolCall(51, 'read'), { session: ada });
      assert.equal(ok.status, 200);
      const denied = await mcpPost(gw.origin, '/sqlite', toolCall(52, 'update'), { session: ada });
      assert.equal(denied.status, 200);
      const refused = await mcpPost(gw.origin, '/sqlite', toolCall(53, 'read'), {
        session: ada,
        headers: { authorization: `Bearer ${bearer}` },
      });
      assert.equal(refused.status, 401);
      const assertion = upstream.requests[0]?.headers['x-pomerium-jwt-assertion'];
      assert.ok(typeof assertion === 'string' && assertion.length > 0);
      const text = gw.logs.text();
      assert.ok(text.includes('"audit":true'), 'the log was captured');
      const secrets: [string, string][] = [
        ['ada session cookie', ada],
        ['bob session cookie', bob],
        ['eve session cookie', eve],
        ['assertion', assertion],
        ['assertion signature', assertion.split('.')[2] ?? ''],
        ['Authorization value', bearer],
      ];
      for (const [what, secret] of secrets) {
        assert.ok(!text.includes(secret), `the log holds the ${what}`);
      }
    });
  });
});
