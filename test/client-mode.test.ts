/**
 * Issue 10, flows 3 to 5: an app behind an `mcp.client` route gets a short-lived token on
 * every request (client mode), lists the user's MCP servers with it, sends the user to connect
 * a server's upstream service, and calls tools with it through the gateway. The app is the
 * example of `examples/client-app`; the upstream service is oidc-provider (`upstream-provider.ts`),
 * the MCP server behind the route checks every token it gets by introspection there.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import Sqlite from 'better-sqlite3';
import { parseConfig } from '../src/config/load.js';
import { hashPassword } from '../src/core/crypto.js';
import { startGateway, type Gateway } from '../src/http/gateway.js';
import { CookieJar, follow, send as browse, type Hop } from './support/cookie-jar.js';
import { startExampleApp, type ExampleApp } from './support/example-app.js';
import {
  captureLogs,
  cookie,
  freePort,
  gatewayYamlHead,
  mcpPost,
  send,
  SESSION_COOKIE,
  signIn,
  type LogCapture,
  type Sent,
} from './support/gateway.js';
import {
  startRecordingMcpServer,
  type RecordingMcpServer,
} from './support/recording-mcp-server.js';
import {
  startTokenCheckingServer,
  type TokenCheckingServer,
} from './support/token-checking-server.js';
import { startUpstreamProvider, type UpstreamProvider } from './support/upstream-provider.js';

const PASSWORD = 'client mode test password';
const ALICE = 'alice@example.com';
const BOB = 'bob@example.com';
/** Client-mode tokens live this long here (seconds): renewed with under 4/3 s left. */
const TOKEN_LIFE = 4;

interface ServerEntry {
  name: string;
  description?: string;
  logo_url?: string;
  url: string;
  connected: boolean;
  needs_oauth: boolean;
  token_expires_at?: string;
  refresh_token_available: boolean;
}

const initialize = {
  jsonrpc: '2.0',
  id: 1,
  method: 'initialize',
  params: {
    protocolVersion: '2025-11-25',
    capabilities: {},
    clientInfo: { name: 'client-mode-test', version: '0' },
  },
};

describe('client mode: an app behind mcp.client and the app-facing endpoints (issue 10)', () => {
  let provider: UpstreamProvider;
  let notes: TokenCheckingServer;
  let plain: RecordingMcpServer;
  let app: ExampleApp;
  let gateway: Gateway;
  let logs: LogCapture;
  let origin: string;
  let appsOrigin: string;
  let dir: string;
  let alice: string;
  const appTokens: string[] = [];
  const url = (path: string) => `${origin}${path}`;

  before(async () => {
    const port = await freePort();
    origin = `http://localhost:${port}`;
    appsOrigin = `http://apps.localhost:${port}`;
    provider = await startUpstreamProvider({
      redirectUris: [`${origin}/.pomerium/mcp/client/oauth/callback`],
      accessTokenTtl: 60,
    });
    notes = await startTokenCheckingServer((t) => provider.introspect(t));
    plain = await startRecordingMcpServer();
    app = await startExampleApp({ basePath: '/app', onToken: (t) => appTokens.push(t) });
    dir = mkdtempSync(join(tmpdir(), 'portcullis-client-mode-'));
    const hash = await hashPassword(PASSWORD);
    const yaml = `
${gatewayYamlHead(port)}
databroker_storage_type: sqlite
databroker_storage_connection_string: ${join(dir, 'gateway.db')}
builtin_users:
  - { email: ${ALICE}, name: Alice, password_hash: '${hash}' }
  - { email: ${BOB}, name: Bob, password_hash: '${hash}' }
routes:
  - from: ${origin}
    prefix: /notes
    to: ${notes.url}
    name: Notes
    allow_any_authenticated_user: true
    mcp:
      server:
        upstream_oauth2:
          client_id: ${provider.clientId}
          client_secret: ${provider.clientSecret}
          scopes: [read]
          endpoint:
            auth_url: ${provider.authUrl}
            token_url: ${provider.tokenUrl}
            revocation_url: ${provider.issuer}/token/revocation
  - from: ${origin}
    prefix: /open
    to: ${plain.url}
    name: Open
    description: Needs no upstream token
    logo_url: https://example.com/open.png
    allow_any_authenticated_user: true
    mcp: { server: {} }
  - from: ${origin}
    prefix: /private
    to: ${plain.url}
    name: Private
    policy: [{ allow: { and: [{ email: { is: ${BOB} } }] } }]
    mcp: { server: {} }
  - from: ${origin}
    prefix: /app
    to: ${app.url}
    name: App
    allow_any_authenticated_user: true
    mcp: { client: {} }
  - from: ${appsOrigin}
    to: ${app.url}
    allow_any_authenticated_user: true
    mcp: { client: {} }
`;
    const { config, warnings } = parseConfig(yaml, 'client-mode-test.yaml', {});
    assert.deepEqual(
      warnings.filter((w) => w.key.includes('mcp')),
      [],
      'client mode is supported: nothing warned',
    );
    logs = captureLogs();
    gateway = await startGateway({
      config,
      logger: logs.logger,
      oauth: { lifetimes: { clientModeToken: TOKEN_LIFE } },
    });
    alice = await signIn(origin, ALICE, PASSWORD);
  });
  after(async () => {
    await gateway?.close();
    await app?.close();
    await plain?.close();
    await notes?.close();
    await provider?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /** A request to the example app through its route, as the signed-in user. */
  const toApp = (session: string, path = '/app/', init: { method?: string; body?: unknown } = {}) =>
    send(origin, {
      method: init.method ?? 'GET',
      path,
      headers: {
        ...cookie(session),
        accept: 'application/json',
        // The client's own Authorization never reaches the app: the gateway's token does.
        authorization: 'Bearer the-clients-own-token',
        ...(init.body === undefined ? {} : { 'content-type': 'application/json', origin }),
      },
      ...(init.body === undefined ? {} : { body: JSON.stringify(init.body) }),
    });

  const serversOf = (res: Sent) => {
    assert.equal(res.status, 200, res.body);
    return (JSON.parse(res.body) as { servers: ServerEntry[] }).servers;
  };

  const callThroughApp = (session: string, server: string, tool: string) =>
    toApp(session, '/app/call', { method: 'POST', body: { server, tool, arguments: {} } });

  /** The text of a tool result the app passed on. */
  const resultText = (res: Sent) => {
    assert.equal(res.status, 200, res.body);
    const { result } = JSON.parse(res.body) as { result: { content: { text: string }[] } };
    return result.content[0]?.text;
  };

  const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

  it('the app lists the servers the user may reach, through /.pomerium/mcp/routes with its token', async () => {
    const servers = serversOf(await toApp(alice));
    assert.deepEqual(servers, [
      {
        name: 'Notes',
        url: url('/notes'),
        connected: false,
        needs_oauth: true,
        refresh_token_available: false,
      },
      {
        name: 'Open',
        description: 'Needs no upstream token',
        logo_url: 'https://example.com/open.png',
        url: url('/open'),
        connected: true,
        needs_oauth: false,
        refresh_token_available: false,
      },
    ]);
    const token = appTokens.at(-1);
    assert.ok(token && token !== 'the-clients-own-token', 'the app got the gateway’s token');
    const direct = await send(origin, { path: '/.pomerium/mcp/routes', headers: bearer(token) });
    assert.deepEqual(serversOf(direct), servers, 'the token alone lists them');
  });

  it('one token per session, reused; another session gets its own', async () => {
    // A fresh session: its first token has its whole life ahead, so the next request reuses it.
    const again = await signIn(origin, ALICE, PASSWORD);
    const before = appTokens.length;
    await toApp(again);
    await toApp(again);
    assert.equal(appTokens.length, before + 2);
    assert.equal(appTokens.at(-1), appTokens.at(-2), 'not minted per request');
    const bob = await signIn(origin, BOB, PASSWORD);
    const bobs = serversOf(await toApp(bob)).map((s) => s.name);
    assert.deepEqual(bobs, ['Notes', 'Open', 'Private'], 'Bob’s policy lets him reach Private');
    assert.notEqual(appTokens.at(-1), appTokens.at(-2));
  });

  it('connects through the upstream provider and comes back to the app', async () => {
    const jar = new CookieJar();
    jar.set('localhost', SESSION_COOKIE, alice);
    const page = await browse(jar, url('/app/'));
    assert.equal(page.status, 200, page.body);
    const link = links(page.body).find((l) => l.pathname === '/.pomerium/mcp/connect');
    assert.ok(link, `a connect link in ${page.body}`);
    assert.equal(link.searchParams.get('route'), url('/notes'));
    assert.equal(link.searchParams.get('redirect_url'), url('/app/'));
    const hops = await throughProvider(jar, link, 'alice-at-service');
    assert.ok(
      hops.some((h) => h.url.origin === provider.issuer),
      'through the provider',
    );
    const last = hops.at(-1)!;
    assert.equal(last.url.href, url('/app/'), 'back where the app asked');
    assert.match(last.body, /Notes.*: connected/);
    const notesEntry = serversOf(await toApp(alice)).find((s) => s.name === 'Notes');
    assert.equal(notesEntry?.connected, true);
    assert.equal(notesEntry?.refresh_token_available, true);
    assert.ok(notesEntry?.token_expires_at);
    assert.ok(Math.abs(Date.parse(notesEntry.token_expires_at) - Date.now() - 60_000) < 10_000);
  });

  it('calls a tool with its token: the server gets the upstream token, never the app’s', async () => {
    const text = resultText(await callThroughApp(alice, url('/notes'), 'account'));
    assert.deepEqual(JSON.parse(text ?? ''), { sub: 'alice-at-service', active: true });
    const seen = notes.authorizations.at(-1)?.replace(/^Bearer /, '');
    assert.ok(seen);
    assert.ok(!appTokens.includes(seen), 'the app’s token stayed at the gateway');
    assert.equal((await provider.introspect(seen)).active, true);
    assert.equal(resultText(await callThroughApp(alice, url('/open'), 'hello')), 'hello');
    assert.equal(plain.authorizations.at(-1), undefined, 'no token for a server that needs none');
  });

  it('the token works on the user’s MCP routes only: refused on one the user may not reach', async () => {
    await toApp(alice);
    const token = appTokens.at(-1)!;
    const open = await mcpPost(origin, '/open', initialize, { headers: bearer(token) });
    assert.equal(open.status, 200, open.body);
    const refused = await mcpPost(origin, '/private', initialize, { headers: bearer(token) });
    assert.equal(refused.status, 401, refused.body);
    assert.match(String(refused.headers['www-authenticate']), /error="invalid_token"/);
    // Bob's token is good there: it is the audience, not the route, that decides.
    const bob = await signIn(origin, BOB, PASSWORD);
    await toApp(bob);
    const bobs = await mcpPost(origin, '/private', initialize, {
      headers: bearer(appTokens.at(-1)!),
    });
    assert.equal(bobs.status, 200, bobs.body);
  });

  it('/.pomerium/mcp/routes refuses what is not a client-mode token, and nobody', async () => {
    const junk = await send(origin, {
      path: '/.pomerium/mcp/routes',
      headers: bearer('x'.repeat(43)),
    });
    assert.equal(junk.status, 401);
    assert.equal(JSON.parse(junk.body).error, 'invalid_token');
    const nobody = await send(origin, { path: '/.pomerium/mcp/routes' });
    assert.equal(nobody.status, 401);
    assert.equal(nobody.statusMessage, 'Unauthorized');
    const anonymousApp = await send(origin, {
      path: '/app/',
      headers: { accept: 'application/json' },
    });
    assert.equal(anonymousApp.status, 401, 'no session, no app and no token');
  });

  it('cookie POSTs: a foreign Origin is refused, the host’s own and an mcp.client host’s are taken', async () => {
    const post = (headers: Record<string, string>) =>
      send(origin, {
        method: 'POST',
        path: '/.pomerium/mcp/routes/refresh',
        headers: { ...cookie(alice), 'content-type': 'application/json', ...headers },
        body: JSON.stringify({ routes: [] }),
      });
    for (const foreign of [
      'https://evil.example',
      'null',
      `http://localhost:${Number(new URL(origin).port) + 1}`,
    ]) {
      const res = await post({ origin: foreign });
      assert.equal(res.status, 403, foreign);
      assert.equal(res.headers['access-control-allow-origin'], undefined, foreign);
    }
    assert.equal((await post({})).status, 403, 'no Origin and no Sec-Fetch-Site');
    assert.equal((await post({ 'sec-fetch-site': 'same-origin' })).status, 200);
    assert.equal((await post({ origin })).status, 200);
    const fromApp = await post({ origin: appsOrigin });
    assert.equal(fromApp.status, 200, fromApp.body);
    assert.equal(fromApp.headers['access-control-allow-origin'], appsOrigin);
    assert.equal(fromApp.headers['access-control-allow-credentials'], 'true');
    const read = await send(origin, {
      path: '/.pomerium/mcp/routes',
      headers: { ...cookie(alice), origin: 'https://evil.example' },
    });
    assert.equal(read.status, 403, 'a foreign page may not read it with the cookie either');
    // A token is no ambient credential: whoever holds it was given it.
    const withToken = await send(origin, {
      method: 'POST',
      path: '/.pomerium/mcp/routes/refresh',
      headers: {
        ...bearer(appTokens.at(-1)!),
        origin: 'https://evil.example',
        'content-type': 'application/json',
      },
      body: '{"routes":[]}',
    });
    assert.equal(withToken.status, 200, withToken.body);
    assert.equal(withToken.headers['access-control-allow-origin'], undefined);
  });

  it('CORS preflight: granted to an mcp.client origin only', async () => {
    const preflight = (from: string) =>
      send(origin, {
        method: 'OPTIONS',
        path: '/.pomerium/mcp/routes/disconnect',
        headers: {
          origin: from,
          'access-control-request-method': 'POST',
          'access-control-request-headers': 'content-type',
        },
      });
    const ok = await preflight(appsOrigin);
    assert.equal(ok.status, 204);
    assert.equal(ok.headers['access-control-allow-origin'], appsOrigin);
    assert.match(String(ok.headers['access-control-allow-methods']), /POST/);
    const evil = await preflight('https://evil.example');
    assert.equal(evil.status, 403);
    assert.equal(evil.headers['access-control-allow-origin'], undefined);
  });

  const action = (which: 'refresh' | 'disconnect', body: string, type = 'application/json') =>
    send(origin, {
      method: 'POST',
      path: `/.pomerium/mcp/routes/${which}`,
      headers: { ...cookie(alice), origin, 'content-type': type },
      body,
    });

  it('refresh: forces a refresh now and reports each route it could not', async () => {
    const before = provider.refreshes;
    const stale = serversOf(await toApp(alice)).find((s) => s.name === 'Notes')?.token_expires_at;
    await sleep(1100); // a refreshed token expires later, to the second
    const routes = [url('/notes'), url('/open'), url('/private'), 'https://nowhere.example/mcp'];
    const res = await action('refresh', JSON.stringify({ routes }));
    assert.equal(res.status, 200, res.body);
    const body = JSON.parse(res.body) as { servers: ServerEntry[]; errors: Record<string, string> };
    assert.equal(provider.refreshes, before + 1, 'one refresh, although not due');
    assert.deepEqual(Object.keys(body.errors).sort(), [routes[3], routes[2]].sort());
    assert.match(body.errors[url('/private')] ?? '', /not an MCP server you may access/);
    const fresh = body.servers.find((s) => s.name === 'Notes')?.token_expires_at;
    assert.ok(stale && fresh && Date.parse(fresh) > Date.parse(stale), `${stale} → ${fresh}`);
    const text = resultText(await callThroughApp(alice, url('/notes'), 'account'));
    assert.match(text ?? '', /alice-at-service/, 'the refreshed token works');
  });

  it('bad bodies are 400 with an OAuth-style error', async () => {
    for (const [body, type] of [
      ['{"routes": [', 'application/json'],
      ['{"routes": "all"}', 'application/json'],
      ['[1, 2]', 'application/json'],
      ['{"routes": []}', 'text/plain'],
    ] as const) {
      for (const which of ['refresh', 'disconnect'] as const) {
        const res = await action(which, body, type);
        assert.equal(res.status, 400, `${which} ${body}`);
        const error = JSON.parse(res.body) as { error: string; error_description: string };
        assert.equal(error.error, 'invalid_request');
        assert.ok(error.error_description.length > 0);
      }
    }
    const wrongMethod = await send(origin, {
      path: '/.pomerium/mcp/routes/refresh',
      headers: cookie(alice),
    });
    assert.equal(wrongMethod.status, 405);
  });

  it('disconnect revokes the token at the provider and forgets it', async () => {
    const held = notes.authorizations.at(-1)?.replace(/^Bearer /, '');
    assert.ok(held);
    assert.equal((await provider.introspect(held)).active, true);
    const res = await action('disconnect', JSON.stringify({ routes: [url('/notes')] }));
    assert.equal(res.status, 200, res.body);
    const body = JSON.parse(res.body) as { servers: ServerEntry[]; errors: Record<string, string> };
    assert.deepEqual(body.errors, {});
    const entry = body.servers.find((s) => s.name === 'Notes');
    assert.deepEqual(entry && [entry.connected, entry.token_expires_at], [false, undefined]);
    assert.equal((await provider.introspect(held)).active, false, 'revoked at the provider');
    const again = await action('refresh', JSON.stringify({ routes: [url('/notes')] }));
    assert.match(JSON.parse(again.body).errors[url('/notes')], /not connected/);
    const call = await callThroughApp(alice, url('/notes'), 'account');
    assert.equal(call.status, 502, 'the app’s call fails: nothing to send upstream');
    const token = appTokens.at(-1)!;
    const direct = await mcpPost(origin, '/notes', initialize, { headers: bearer(token) });
    assert.equal(direct.status, 401, direct.body);
    // Unlike an MCP client's, the token's grant is not revoked for it: no refresh can fail.
    const open = await mcpPost(origin, '/open', initialize, { headers: bearer(token) });
    assert.equal(open.status, 200, 'the app’s token still works on the other servers');
  });

  it('connect refuses every hostile redirect_url with 400, and never redirects', async () => {
    const port = new URL(origin).port;
    const good = `localhost:${port}`;
    const hostile = [
      'https://evil.example/',
      `https://${good}@evil.example/`,
      `https://evil.example@${good}/`,
      `http://user:pass@${good}/app/`,
      '//evil.example/',
      `//${good}/app/`,
      '/app/',
      '/\\evil.example/',
      'https:\\\\evil.example/',
      `https:/\\evil.example/`,
      `http://${good}\\@evil.example/`,
      `https://${good}%2F@evil.example/`,
      `https://evil.example%2F${good}/`,
      'https:%2F%2Fevil.example/',
      'https:evil.example/',
      'javascript:alert(1)',
      `javascript://${good}/%0Aalert(1)`,
      'data:text/html,<script>alert(1)</script>',
      'http://evil.example/',
      `https://${good}.evil.example/`,
      `https://apps.localhost.evil.example:${port}/`,
      `http://localhost:${Number(port) + 1}/`,
      ` https://${good}/`,
      `https://${good}/\t`,
      `https://${good}/%0d%0aSet-Cookie:x=y`.replace('%0d%0a', '\r\n'),
      '',
    ];
    for (const target of hostile) {
      for (const [accept, jar] of [
        ['application/json', alice],
        ['text/html', undefined],
      ] as const) {
        const query = new URLSearchParams({ redirect_url: target, route: url('/open') });
        const res = await send(origin, {
          path: `/.pomerium/mcp/connect?${query}`,
          headers: { accept, ...(jar ? cookie(jar) : {}) },
        });
        assert.equal(res.status, 400, `${JSON.stringify(target)} (${accept}): ${res.status}`);
        assert.equal(res.headers.location, undefined, JSON.stringify(target));
        if (accept === 'application/json') {
          const body = JSON.parse(res.body) as { error: string; error_description: string };
          assert.equal(body.error, 'invalid_request');
          assert.match(body.error_description, /redirect_url/);
        } else {
          assert.match(String(res.headers['content-type']), /^text\/html/);
          assert.match(res.body, /Cannot connect/);
        }
      }
    }
    const none = await send(origin, { path: '/.pomerium/mcp/connect', headers: cookie(alice) });
    assert.equal(none.status, 400, 'no redirect_url at all');
  });

  it('connect: straight back when connected or needing nothing; signed in first; one server named', async () => {
    const connect = (query: Record<string, string>, session?: string) =>
      send(origin, {
        path: `/.pomerium/mcp/connect?${new URLSearchParams(query)}`,
        headers: session ? cookie(session) : {},
      });
    const back = url('/app/?from=connect');
    const straight = await connect({ redirect_url: back, route: url('/open') }, alice);
    assert.equal(straight.status, 302);
    assert.equal(straight.headers.location, back);
    const toApps = await connect(
      { redirect_url: `${appsOrigin}/done`, route: url('/open') },
      alice,
    );
    assert.equal(
      toApps.headers.location,
      `${appsOrigin}/done`,
      'an mcp.client host is a good place',
    );
    const anonymous = await connect({ redirect_url: back, route: url('/open') });
    assert.equal(anonymous.status, 302);
    assert.notEqual(anonymous.headers.location, back, 'to sign in first, not back');
    assert.match(String(anonymous.headers.location), /\/\.pomerium\/idp\//);
    const several = await connect({ redirect_url: back }, alice);
    assert.equal(several.status, 400);
    assert.match(several.body, /several MCP servers/);
    const unknown = await connect({ redirect_url: back, route: 'https://evil.example/mcp' }, alice);
    assert.equal(unknown.status, 400);
    const denied = await connect({ redirect_url: back, route: url('/private') }, alice);
    assert.equal(denied.status, 302);
    const deniedAt = new URL(String(denied.headers.location));
    assert.equal(deniedAt.origin + deniedAt.pathname, url('/app/'));
    assert.match(deniedAt.searchParams.get('connect_error') ?? '', /denied by policy/);
    const toProvider = await connect({ redirect_url: back, route: url('/notes') }, alice);
    assert.equal(toProvider.status, 302);
    assert.equal(new URL(String(toProvider.headers.location)).origin, provider.issuer);
  });

  it('a refusal at the provider comes back to the app as connect_error', async () => {
    const jar = new CookieJar();
    jar.set('localhost', SESSION_COOKIE, alice);
    const start = new URL(url('/.pomerium/mcp/connect'));
    start.search = new URLSearchParams({
      redirect_url: url('/app/'),
      route: url('/notes'),
    }).toString();
    const hops = await throughProvider(jar, start, 'alice-at-service', 'deny');
    const last = hops.at(-1)!;
    assert.equal(last.url.origin + last.url.pathname, url('/app/'));
    assert.match(last.url.searchParams.get('connect_error') ?? '', /access_denied/);
    assert.match(last.body, /Connecting failed/);
  });

  it('connect before sign-in: signs in, then goes on where it was sent', async () => {
    const jar = new CookieJar();
    const start = new URL(url('/.pomerium/mcp/connect'));
    const back = url('/app/?after=sign-in');
    start.search = new URLSearchParams({ redirect_url: back, route: url('/open') }).toString();
    const form = (await follow(jar, start)).at(-1)!;
    assert.equal(form.status, 200, form.body);
    assert.match(form.url.pathname, /^\/\.pomerium\/idp\//);
    const hops = await follow(jar, form.url, { form: { email: ALICE, password: PASSWORD } });
    assert.ok(
      hops.some((h) => h.url.pathname === '/.pomerium/mcp/connect'),
      'back at connect',
    );
    const last = hops.at(-1)!;
    assert.equal(last.url.href, back);
    assert.equal(last.status, 200, 'the app, signed in');
  });

  it('refresh refused by the provider: the token is deleted, the app is told to connect again', async () => {
    const jar = new CookieJar();
    jar.set('localhost', SESSION_COOKIE, alice);
    const start = new URL(url('/.pomerium/mcp/connect'));
    start.search = new URLSearchParams({
      redirect_url: url('/app/'),
      route: url('/notes'),
    }).toString();
    await throughProvider(jar, start, 'alice-at-service');
    assert.equal(serversOf(await toApp(alice)).find((s) => s.name === 'Notes')?.connected, true);
    await provider.revokeAccount('alice-at-service');
    const res = await action('refresh', JSON.stringify({ routes: [url('/notes')] }));
    const body = JSON.parse(res.body) as { servers: ServerEntry[]; errors: Record<string, string> };
    assert.match(body.errors[url('/notes')] ?? '', /refused the refresh: connect again/);
    assert.equal(body.servers.find((s) => s.name === 'Notes')?.connected, false);
  });

  it('the token is refused once it expires; the app’s next request brings a new one', async () => {
    await toApp(alice);
    const token = appTokens.at(-1)!;
    await sleep((TOKEN_LIFE + 0.5) * 1000);
    const open = await mcpPost(origin, '/open', initialize, { headers: bearer(token) });
    assert.equal(open.status, 401, open.body);
    const list = await send(origin, { path: '/.pomerium/mcp/routes', headers: bearer(token) });
    assert.equal(list.status, 401);
    serversOf(await toApp(alice));
    const next = appTokens.at(-1)!;
    assert.notEqual(next, token);
    assert.equal(
      (await mcpPost(origin, '/open', initialize, { headers: bearer(next) })).status,
      200,
    );
  });

  it('signing out kills the token at once', async () => {
    const session = await signIn(origin, BOB, PASSWORD);
    await toApp(session);
    const token = appTokens.at(-1)!;
    assert.equal(
      (await mcpPost(origin, '/open', initialize, { headers: bearer(token) })).status,
      200,
    );
    const out = await send(origin, {
      method: 'POST',
      path: '/.pomerium/sign_out',
      headers: { ...cookie(session), origin },
    });
    assert.equal(out.status, 302);
    const after = await mcpPost(origin, '/open', initialize, { headers: bearer(token) });
    assert.equal(after.status, 401, after.body);
  });

  it('no token value is stored in the clear or logged', () => {
    const db = new Sqlite(join(dir, 'gateway.db'), { readonly: true });
    try {
      const tables = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as {
        name: string;
      }[];
      const dump = tables
        .map(({ name }) => JSON.stringify(db.prepare(`SELECT * FROM "${name}"`).all()))
        .join('\n');
      const values = [...new Set(appTokens)];
      assert.ok(values.length >= 4, `${values.length} tokens checked`);
      for (const value of values) {
        assert.equal(dump.includes(value), false, 'a token in the database');
        assert.equal(logs.text().includes(value), false, 'a token in the logs');
      }
    } finally {
      db.close();
    }
  });

  /**
   * Follows a connect flow as a browser: redirects, and the provider's consent page answered
   * for `account`, until a page that is neither.
   */
  async function throughProvider(
    jar: CookieJar,
    start: URL,
    account: string,
    decision: 'allow' | 'deny' = 'allow',
  ): Promise<Hop[]> {
    const hops: Hop[] = [];
    let hop = await browse(jar, start);
    for (let i = 0; i < 20; i++) {
      hops.push(hop);
      const location = hop.headers.get('location');
      if (hop.status >= 300 && hop.status < 400 && location) {
        hop = await browse(jar, new URL(location, hop.url));
      } else if (hop.url.origin === provider.issuer && /name="decision"/.test(hop.body)) {
        hop = await browse(jar, hop.url, { form: { account, decision } });
      } else {
        return hops;
      }
    }
    assert.fail(`too many hops: ${hops.map((h) => `${h.status} ${h.url.href}`).join(' → ')}`);
  }
});

/** The links of a page the example app served (it escapes `&` as `&#38;`). */
function links(html: string): URL[] {
  return [...html.matchAll(/href="([^"]+)"/g)].map(
    (m) =>
      new URL(m[1]!.replace(/&#(\d+);/g, (_, code: string) => String.fromCharCode(Number(code)))),
  );
}
