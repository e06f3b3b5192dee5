/**
 * Issue 8, the proxy's share: what a client may not smuggle to an upstream, and what the gateway
 * must not leak to one. The gateway's own cookies stay home (#1), identity headers are the
 * gateway's alone (#3) and survive any identity value (#7), absolute-form targets route by their
 * authority (#10), a second Host is refused (#11), and only POST carries JSON-RPC (#12).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { hashPassword } from '../src/core/crypto.js';
import { CookieJar } from './support/cookie-jar.js';
import {
  cookie,
  gatewayYamlHead,
  json,
  mcpPost,
  send,
  signIn,
  startTestGateway,
  toolCall,
  type TestGateway,
} from './support/gateway.js';
import { rawExchange } from './support/http.js';
import { startJsonRpcUpstream, type JsonRpcUpstream } from './support/jsonrpc-upstream.js';
import { authorizeInBrowser } from './support/oauth-browser.js';
import { authorizationUrl, pkce, publicClient, register } from './support/oauth-flow.js';

const PASSWORD = 'hardening-proxy-password';
const ADA = 'ada@example.com';
const ZOE = 'zoe@example.com';
const ZOE_NAME = 'Zoë 李';
const MALLORY = 'mallory@example.com';
/** A name an identity provider could hand over: a header line hidden behind CR LF. */
const MALLORY_NAME = 'Mallory\r\nX-Injected: yes';

function configYaml(port: number, upstream: string, hash: string): string {
  return `
${gatewayYamlHead(port)}
databroker_storage_type: memory
jwt_claims_headers:
  X-Email: email
  X-Name: name
  X-Dept: department
builtin_users:
  - { email: ${ADA}, name: Ada, groups: [admins], password_hash: '${hash}' }
  - { email: ${ZOE}, name: "${ZOE_NAME}", groups: [staff], password_hash: '${hash}' }
  - { email: ${MALLORY}, name: "Mallory\\r\\nX-Injected: yes", password_hash: '${hash}' }
routes:
  - from: http://localhost:${port}
    prefix: /mcp
    to: ${upstream}/mcp
    name: Tools
    pass_identity_headers: true
    policy:
      - allow: { and: [{ domain: { is: example.com } }] }
      - deny: { or: [{ mcp_tool: { in: [delete_all] } }] }
    mcp: { server: {} }
  - from: http://localhost:${port}
    prefix: /bare-mcp
    to: ${upstream}/bare-mcp
    name: Bare tools
    pass_identity_headers: false
    allow_any_authenticated_user: true
    mcp: { server: {} }
  - from: http://localhost:${port}
    prefix: /app
    to: ${upstream}/app
    name: Client app
    pass_identity_headers: false
    allow_any_authenticated_user: true
    mcp: { client: {} }
  - from: http://localhost:${port}
    prefix: /web
    to: ${upstream}/web
    name: Web
    pass_identity_headers: true
    allow_any_authenticated_user: true
  - from: http://localhost:${port}
    prefix: /bare
    to: ${upstream}/bare
    name: Bare web
    allow_any_authenticated_user: true
`;
}

/** The status code of a raw HTTP/1.1 response. */
function statusOf(raw: string): number {
  const status = /^HTTP\/1\.1 (\d{3}) /.exec(raw)?.[1];
  assert.ok(status, `not an HTTP response: ${JSON.stringify(raw.slice(0, 200))}`);
  return Number(status);
}

/** The body of a raw response (the gateway's answers carry Content-Length, never chunked). */
function bodyOf(raw: string): string {
  return raw.slice(raw.indexOf('\r\n\r\n') + 4);
}

describe('proxy hardening (issue 8)', () => {
  let upstream: JsonRpcUpstream;
  let gw: TestGateway;
  let ada = '';
  let host = '';

  before(async () => {
    upstream = await startJsonRpcUpstream();
    const hash = await hashPassword(PASSWORD);
    gw = await startTestGateway((port) => configYaml(port, upstream.url, hash));
    ada = await signIn(gw.origin, ADA, PASSWORD);
    host = `localhost:${gw.port}`;
  });
  after(async () => {
    await gw?.close();
    await upstream?.close();
  });

  /** The one request the upstream received since the last `fresh()`. */
  const only = () => {
    assert.equal(upstream.requests.length, 1, 'the upstream got exactly one request');
    return upstream.requests[0]!;
  };
  const tools = (session: string, headers: Record<string, string> = {}, path = '/mcp') =>
    mcpPost(gw.origin, path, { jsonrpc: '2.0', id: 1, method: 'tools/list' }, { session, headers });
  const get = (path: string, session: string, headers: Record<string, string> = {}) =>
    send(gw.origin, { path, headers: { ...cookie(session), ...headers } });
  /** One raw request line and header block on a fresh connection (closed after the answer). */
  const raw = (requestLine: string, headers: string[], body = '') =>
    rawExchange(gw.port, [requestLine, ...headers, 'Connection: close', '', body].join('\r\n'));

  describe('#1 the gateway’s own cookies stay at the gateway', () => {
    let jar: CookieJar;
    /** Every cookie name the gateway set while a user signed in and authorized an MCP client. */
    let gatewayCookies: string[];
    const clientCookies = 'theme=dark; app_session=client-own; _ga=GA1.2.3';

    before(async () => {
      jar = new CookieJar();
      const redirectUri = 'http://127.0.0.1:43111/callback';
      const { clientId } = await register(gw.origin, publicClient(redirectUri));
      const url = authorizationUrl(gw.origin, {
        client_id: clientId,
        redirect_uri: redirectUri,
        code_challenge: pkce().challenge,
        resource: `${gw.origin}/mcp`,
      });
      const run = await authorizeInBrowser(url, { email: ADA, password: PASSWORD, jar });
      assert.ok(run.location.searchParams.get('code'), run.location.href);
      const names = run.hops.flatMap((hop) =>
        hop.headers.getSetCookie().map((line) => line.slice(0, line.indexOf('='))),
      );
      gatewayCookies = [...new Set(names)];
    });

    /** Each gateway cookie (its current value, or any value for one already cleared). */
    const gatewayCookieHeader = () =>
      gatewayCookies
        .map((name) => `${name}=${jar.get('localhost', name)?.value ?? 'stale'}`)
        .join('; ');

    it('the sign-in, the built-in provider and the authorization server all set cookies', () => {
      // Without these, the checks below would prove nothing.
      assert.ok(gatewayCookies.includes('portcullis_session'), gatewayCookies.join(', '));
      assert.ok(gatewayCookies.length >= 4, gatewayCookies.join(', '));
    });

    it('an mcp.server route strips them and keeps the client’s other cookies', async () => {
      for (const path of ['/mcp', '/bare-mcp']) {
        upstream.fresh();
        const header = `${clientCookies}; ${gatewayCookieHeader()}`;
        const res = await tools('', { cookie: header }, path);
        assert.equal(res.status, 200, res.body);
        assert.equal(only().headers.cookie, clientCookies, path);
      }
    });

    it('plain and mcp.client routes strip them too, wherever they sit in the header', async () => {
      for (const path of ['/web/page', '/bare/page', '/app/page']) {
        upstream.fresh();
        const header = `theme=dark; ${gatewayCookieHeader()}; app_session=client-own; _ga=GA1.2.3`;
        const res = await send(gw.origin, { path, headers: { cookie: header } });
        assert.equal(res.status, 200, res.body);
        assert.equal(only().headers.cookie, clientCookies, path);
      }
    });

    it('a Cookie header with nothing but the gateway’s is dropped', async () => {
      upstream.fresh();
      const res = await tools('', { cookie: gatewayCookieHeader() });
      assert.equal(res.status, 200, res.body);
      assert.equal(only().headers.cookie, undefined);
      upstream.fresh();
      await get('/web/page', ada);
      assert.equal(only().headers.cookie, undefined);
    });

    it('secure-prefixed and look-alike names: only the gateway’s go', async () => {
      upstream.fresh();
      const header = `${cookie(ada).cookie}; __Host-portcullis_session=x; portcullis=kept; my_portcullis_session=kept`;
      await send(gw.origin, { path: '/web/page', headers: { cookie: header } });
      assert.equal(only().headers.cookie, 'portcullis=kept; my_portcullis_session=kept');
    });

    it('an upstream cannot set a gateway cookie on the client; its own cookies pass', async () => {
      for (const path of ['/web/page', '/mcp']) {
        upstream.fresh();
        upstream.responseHeaders = {
          'set-cookie': [
            'portcullis_session=fixed-by-upstream; Path=/; HttpOnly',
            '__Host-portcullis_session=fixed; Path=/; Secure',
            'portcullis_mcp_session=x',
            'app=1; Path=/',
          ],
        };
        const res =
          path === '/mcp'
            ? await tools('', { cookie: cookie(ada).cookie })
            : await send(gw.origin, { path, headers: { cookie: cookie(ada).cookie } });
        assert.equal(res.status, 200, res.body);
        assert.deepEqual(res.headers['set-cookie'], ['app=1; Path=/'], path);
      }
      upstream.fresh();
      upstream.responseHeaders = { 'set-cookie': 'portcullis_session=only' };
      const res = await send(gw.origin, {
        path: '/web/page',
        headers: { cookie: cookie(ada).cookie },
      });
      assert.equal(res.headers['set-cookie'], undefined);
      upstream.fresh();
    });
  });

  describe('#3 identity headers are the gateway’s to set', () => {
    const forged = {
      'X-Dept': 'finance-admins',
      'x-EMAIL': 'ceo@example.com',
      'X-Name': 'The CEO',
      'X-Pomerium-Claim-Email': 'ceo@example.com',
      'X-Pomerium-Jwt-Assertion': 'forged',
    };

    it('on identity routes a claim the user lacks stays unset and the rest are the gateway’s', async () => {
      for (const request of [() => tools(ada, forged), () => get('/web/page', ada, forged)]) {
        upstream.fresh();
        const res = await request();
        assert.equal(res.status, 200, res.body);
        const seen = only().headers;
        assert.equal(seen['x-dept'], undefined, 'Ada has no department claim');
        assert.equal(seen['x-email'], ADA);
        assert.equal(seen['x-name'], 'Ada');
        assert.notEqual(seen['x-pomerium-jwt-assertion'], 'forged');
        assert.equal(seen['x-pomerium-claim-email'], undefined);
      }
    });

    it('on routes without identity headers, every configured claim header is removed', async () => {
      const requests = [
        () => tools(ada, forged, '/bare-mcp'),
        () => get('/bare/page', ada, forged),
        () => get('/app/page', ada, forged),
      ];
      for (const request of requests) {
        upstream.fresh();
        const res = await request();
        assert.equal(res.status, 200, res.body);
        const seen = only().headers;
        for (const name of ['x-dept', 'x-email', 'x-name', 'x-pomerium-jwt-assertion']) {
          assert.equal(seen[name], undefined, `${only().path}: ${name}`);
        }
      }
    });
  });

  describe('#7 any identity value reaches the upstream intact, and never as a header break', () => {
    /** RFC 8187 §3.2.1 ext-value with the UTF-8 charset, as docs/proxy.md describes. */
    const decodeExtValue = (value: string | string[] | undefined) => {
      assert.equal(typeof value, 'string');
      const text = value as string;
      assert.ok(text.startsWith("UTF-8''"), text);
      return decodeURIComponent(text.slice("UTF-8''".length));
    };

    it('a non-Latin-1 name is sent encoded, on MCP and plain routes alike', async () => {
      const zoe = await signIn(gw.origin, ZOE, PASSWORD);
      for (const request of [() => tools(zoe), () => get('/web/page', zoe)]) {
        upstream.fresh();
        const res = await request();
        assert.equal(res.status, 200, res.body);
        const seen = only().headers;
        assert.equal(seen['x-email'], ZOE, 'a plain ASCII value is sent as it is');
        assert.match(String(seen['x-name']), /^[\x21-\x7e]+$/);
        assert.equal(decodeExtValue(seen['x-name']), ZOE_NAME);
      }
    });

    it('CR LF in a claim never reaches a header, and the request succeeds', async () => {
      const mallory = await signIn(gw.origin, MALLORY, PASSWORD);
      upstream.fresh();
      const res = await tools(mallory);
      assert.equal(res.status, 200, res.body);
      const seen = only().headers;
      assert.equal(seen['x-injected'], undefined);
      assert.equal(decodeExtValue(seen['x-name']), MALLORY_NAME);
    });
  });

  describe('#10 absolute-form request targets (RFC 9112 §3.2.2)', () => {
    it('route by their authority and reach the upstream in origin-form', async () => {
      upstream.fresh();
      const answer = await raw(`GET http://${host}/web/page?q=1 HTTP/1.1`, [
        `Host: ${host}`,
        `Cookie: ${cookie(ada).cookie}`,
      ]);
      assert.equal(statusOf(answer), 200, answer);
      assert.equal(only().path, '/web/page?q=1');
    });

    it('ignore the Host header, which names another host', async () => {
      upstream.fresh();
      const answer = await raw(`GET http://${host}/web/page HTTP/1.1`, [
        'Host: elsewhere.example',
        `Cookie: ${cookie(ada).cookie}`,
      ]);
      assert.equal(statusOf(answer), 200, answer);
      assert.equal(only().path, '/web/page');
      assert.equal(only().headers['x-forwarded-host'], host);
    });

    it('an authority no route serves is not routed by Host', async () => {
      upstream.fresh();
      const answer = await raw('GET http://other.example/web/page HTTP/1.1', [
        `Host: ${host}`,
        `Cookie: ${cookie(ada).cookie}`,
      ]);
      assert.equal(statusOf(answer), 404, answer);
      assert.equal(upstream.requests.length, 0);
    });

    it('an MCP POST in absolute-form is checked by policy like any other', async () => {
      const post = (call: unknown) => {
        const body = JSON.stringify(call);
        return raw(
          `POST http://${host}/mcp HTTP/1.1`,
          [
            `Host: ${host}`,
            `Cookie: ${cookie(ada).cookie}`,
            'Content-Type: application/json',
            'Accept: application/json, text/event-stream',
            `Content-Length: ${Buffer.byteLength(body)}`,
          ],
          body,
        );
      };
      upstream.fresh();
      const denied = await post(toolCall(1, 'delete_all'));
      assert.equal(statusOf(denied), 200, denied);
      assert.match(bodyOf(denied), /tool call denied by policy/);
      assert.equal(upstream.requests.length, 0);
      const allowed = await post(toolCall(2, 'echo'));
      assert.equal(statusOf(allowed), 200, allowed);
      assert.equal(only().path, '/mcp');
    });

    it('a scheme other than the listener’s, userinfo or an empty authority is 400', async () => {
      upstream.fresh();
      const targets = [
        `https://${host}/web/page`,
        `http://ada@${host}/web/page`,
        'http:///web/page',
        `ftp://${host}/web/page`,
      ];
      for (const target of targets) {
        const answer = await raw(`GET ${target} HTTP/1.1`, [
          `Host: ${host}`,
          `Cookie: ${cookie(ada).cookie}`,
        ]);
        assert.equal(statusOf(answer), 400, `${target}: ${answer}`);
        assert.equal((JSON.parse(bodyOf(answer)) as { error: string }).error, 'invalid_request');
      }
      assert.equal(upstream.requests.length, 0);
    });
  });

  describe('#11 more than one Host header is 400 (RFC 9112 §3.2)', () => {
    it('on routes and on the gateway’s own endpoints', async () => {
      upstream.fresh();
      const cases: [string, string[]][] = [
        ['/web/page', [`Host: ${host}`, 'Host: other.example']],
        ['/web/page', [`Host: ${host}`, `host: ${host}`]],
        ['/mcp', ['Host: other.example', `HOST: ${host}`]],
        ['/healthz', [`Host: ${host}`, `Host: ${host}`]],
      ];
      for (const [path, hosts] of cases) {
        const answer = await raw(`GET ${path} HTTP/1.1`, [
          ...hosts,
          `Cookie: ${cookie(ada).cookie}`,
        ]);
        assert.equal(statusOf(answer), 400, `${path} ${hosts.join(' / ')}: ${answer}`);
      }
      assert.equal(upstream.requests.length, 0);
      // One Host is fine.
      const one = await raw('GET /web/page HTTP/1.1', [
        `Host: ${host}`,
        `Cookie: ${cookie(ada).cookie}`,
      ]);
      assert.equal(statusOf(one), 200, one);
    });

    it('so is a Host with an invalid value, on routes and own endpoints alike', async () => {
      upstream.fresh();
      for (const bad of [`ada@${host}`, 'localhost:99999', 'local host', 'a/b', 'x:1:2']) {
        for (const path of ['/web/page', '/healthz']) {
          const answer = await raw(`GET ${path} HTTP/1.1`, [`Host: ${bad}`]);
          assert.equal(statusOf(answer), 400, `${path} Host: ${bad}: ${answer}`);
        }
      }
      assert.equal(upstream.requests.length, 0);
    });
  });

  describe('#12 on mcp.server routes only POST carries JSON-RPC', () => {
    const deniedCall = JSON.stringify(toolCall(9, 'delete_all'));
    const withBody = (method: string, body: string | string[] = deniedCall) =>
      send(gw.origin, {
        method,
        path: '/mcp',
        headers: {
          ...cookie(ada),
          'content-type': 'application/json',
          accept: 'application/json, text/event-stream',
        },
        body,
      });

    it('GET and DELETE with a body are 400 and the upstream never sees them', async () => {
      upstream.fresh();
      for (const method of ['GET', 'DELETE']) {
        const res = await withBody(method);
        assert.equal(res.status, 400, `${method}: ${res.body}`);
        const error = json(res).error as { code: number };
        assert.equal(error.code, -32600, method);
      }
      // Chunked, so no Content-Length announces it (node:http would not frame a GET body).
      const chunked = await raw(
        'GET /mcp HTTP/1.1',
        [`Host: ${host}`, `Cookie: ${cookie(ada).cookie}`, 'Transfer-Encoding: chunked'],
        `${Buffer.byteLength(deniedCall).toString(16)}\r\n${deniedCall}\r\n0\r\n\r\n`,
      );
      assert.equal(statusOf(chunked), 400, chunked);
      assert.equal(upstream.requests.length, 0);
    });

    it('methods MCP does not use are 405 with Allow, body or not', async () => {
      upstream.fresh();
      for (const method of ['PUT', 'PATCH']) {
        const res = await withBody(method);
        assert.equal(res.status, 405, `${method}: ${res.body}`);
        assert.equal(res.headers.allow, 'GET, HEAD, POST, DELETE, OPTIONS');
        const empty = await send(gw.origin, { method, path: '/mcp', headers: cookie(ada) });
        assert.equal(empty.status, 405, `${method} without a body: ${empty.body}`);
      }
      assert.equal(upstream.requests.length, 0);
    });

    it('GET and DELETE without a body still reach the upstream', async () => {
      for (const method of ['GET', 'DELETE']) {
        upstream.fresh();
        const res = await send(gw.origin, {
          method,
          path: '/mcp',
          headers: { ...cookie(ada), accept: 'application/json', 'mcp-session-id': 's-1' },
        });
        assert.equal(res.status, 200, `${method}: ${res.body}`);
        assert.equal(only().method, method);
        assert.equal(only().body, '');
      }
    });

    it('plain routes keep their bodies on any method', async () => {
      upstream.fresh();
      const res = await send(gw.origin, {
        method: 'PUT',
        path: '/web/doc',
        headers: cookie(ada),
        body: deniedCall,
      });
      assert.equal(res.status, 200, res.body);
      assert.equal(only().body, deniedCall);
    });
  });
});
