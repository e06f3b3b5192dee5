/**
 * Issue 11, sign-in across hosts (REFERENCE §11): three names under `example.test` on one
 * loopback gateway over https (a test CA naming all three, so the cookies are the real
 * `__Host-` ones). `auth.example.test` is `authenticate_service_url`, the only host that talks
 * to the identity provider; `sqlite.example.test` is an MCP server route (the real SQLite
 * server), `whoami.example.test` a plain route whose upstream echoes the identity assertion.
 *
 * A browser (a cookie jar, then Chromium) signs in once and is signed in on every host; the
 * MCP SDK client authorizes on the SQLite host and calls a tool; sign-out on one host ends the
 * session on all of them, MCP grants included; every hostile hand-off gets a 400 page. A second
 * gateway without `authenticate_service_url` shows the default: the first route's host.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { parseConfig } from '../src/config/load.js';
import { hashPassword, randomId } from '../src/core/crypto.js';
import { startGateway, type Gateway } from '../src/http/gateway.js';
import type { ServersHost } from '../src/servers/host.js';
import { createSqliteServer } from '../src/servers/sqlite/server.js';
import { SignInRequestSigner } from '../src/session/handoff-request.js';
import { launchChromium } from './support/chromium.js';
import { CookieJar, follow, send, type Hop } from './support/cookie-jar.js';
import { CHROMIUM_HOST_RULES, resolveExampleHosts } from './support/example-hosts.js';
import {
  captureLogs,
  freePort,
  TEST_COOKIE_SECRET,
  TEST_SHARED_SECRET,
  type LogCapture,
} from './support/gateway.js';
import { startTestHost } from './support/host.js';
import { firstText } from './support/mcp-client.js';
import { authorizeWithSdk, BrowserOAuthProvider } from './support/oauth-client.js';
import { createTestCa, type TestCa } from './support/test-ca.js';
import { makeDataDir } from './sqlite-fixture.js';

const EMAIL = 'hopper@example.com';
const PASSWORD = 'sign-in across hosts test password';
const SESSION = '__Host-portcullis_session';
const HTML = { accept: 'text/html' };
const MINUTE = 60_000;

/** An upstream that answers with the identity assertion's claims it was sent (not verified). */
async function startEchoUpstream(): Promise<{ url: string; close(): Promise<void> }> {
  const server: Server = createServer((req, res) => {
    const jwt = req.headers['x-pomerium-jwt-assertion'];
    const part = typeof jwt === 'string' ? jwt.split('.')[1] : undefined;
    const claims = part ? (JSON.parse(Buffer.from(part, 'base64url').toString()) as object) : {};
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ path: req.url, claims }));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

interface Origins {
  readonly auth: string;
  readonly sqlite: string;
  readonly whoami: string;
}

interface System {
  readonly gateway: Gateway;
  readonly origins: Origins;
  readonly logs: LogCapture;
  /** Added to the hand-off's clock: requests and codes can be aged without waiting. */
  skewMs: number;
}

/** Shared by both gateways: the CA and its certificate files, the upstreams. */
interface Fixtures {
  readonly ca: TestCa;
  readonly dir: string;
  readonly hash: string;
  readonly servers: ServersHost;
  readonly echo: { url: string; close(): Promise<void> };
  readonly undoResolver: () => Promise<void>;
}

async function startFixtures(): Promise<Fixtures> {
  const ca = createTestCa(
    'DNS:auth.example.test,DNS:sqlite.example.test,DNS:whoami.example.test,DNS:localhost,IP:127.0.0.1',
  );
  const undoResolver = resolveExampleHosts(ca.caPem);
  const dir = mkdtempSync(join(tmpdir(), 'portcullis-signin-hosts-'));
  writeFileSync(join(dir, 'cert.pem'), ca.certPem);
  writeFileSync(join(dir, 'key.pem'), ca.keyPem, { mode: 0o600 });
  const data = makeDataDir(10);
  const servers = await startTestHost([createSqliteServer], {
    SQLITE_DB_FILE: data.file,
    ALLOWED_HOSTS: '127.0.0.1',
  });
  const echo = await startEchoUpstream();
  return { ca, dir, hash: await hashPassword(PASSWORD), servers, echo, undoResolver };
}

/** A gateway on a fresh port; `authHost`: with `authenticate_service_url` on its own host. */
async function startSystem(f: Fixtures, authHost: boolean): Promise<System> {
  const port = await freePort();
  const origins: Origins = {
    auth: authHost ? `https://auth.example.test:${port}` : `https://sqlite.example.test:${port}`,
    sqlite: `https://sqlite.example.test:${port}`,
    whoami: `https://whoami.example.test:${port}`,
  };
  const yaml = `
address: 127.0.0.1:${port}
certificate_file: ${join(f.dir, 'cert.pem')}
certificate_key_file: ${join(f.dir, 'key.pem')}
shared_secret: ${TEST_SHARED_SECRET}
cookie_secret: ${TEST_COOKIE_SECRET}
idp_provider: builtin
databroker_storage_type: memory
${authHost ? `authenticate_service_url: ${origins.auth}` : ''}
builtin_users:
  - { email: ${EMAIL}, name: Grace Hopper, password_hash: '${f.hash}' }
routes:
  - from: ${origins.sqlite}
    to: ${f.servers.url}/sqlite
    name: SQLite
    allow_any_authenticated_user: true
    mcp: { server: {} }
  - from: ${origins.whoami}
    to: ${f.echo.url}
    name: Who am I
    allow_any_authenticated_user: true
    pass_identity_headers: true
`;
  const { config } = parseConfig(yaml, 'signin-hosts.yaml', {});
  const logs = captureLogs();
  const system = { origins, logs, skewMs: 0 } as { -readonly [K in keyof System]: System[K] };
  system.gateway = await startGateway({
    config,
    logger: logs.logger,
    signIn: { handoffClock: () => Date.now() + system.skewMs },
  });
  return system;
}

interface Browsed {
  readonly hops: readonly Hop[];
  readonly last: Hop;
  /** Whether the identity provider's password form was shown (and filled). */
  readonly passwordAsked: boolean;
}

/** A browser visit: follows redirects, signs in on the built-in provider's form when shown. */
async function browse(jar: CookieJar, url: string): Promise<Browsed> {
  const hops = await follow(jar, url, { headers: HTML }, 20);
  let passwordAsked = false;
  const form = hops.at(-1) as Hop;
  if (form.status === 200 && form.url.pathname.startsWith('/.pomerium/idp/interaction/')) {
    passwordAsked = true;
    const form_ = { email: EMAIL, password: PASSWORD };
    hops.push(...(await follow(jar, form.url, { form: form_, headers: HTML }, 20)));
  }
  return { hops, last: hops.at(-1) as Hop, passwordAsked };
}

async function userOn(jar: CookieJar, origin: string): Promise<{ status: number; email?: string }> {
  const hop = await send(jar, `${origin}/.pomerium/user`);
  return hop.status === 200
    ? { status: 200, email: (JSON.parse(hop.body) as { email: string }).email }
    : { status: hop.status };
}

/**
 * Starts a sign-in on `origin` for a jar signed in on the authenticate host and stops before
 * the hand-off is presented: the signed request's URL and the callback URL with the code.
 */
async function pendingHandoff(
  jar: CookieJar,
  origin: string,
): Promise<{ signIn: URL; callback: URL }> {
  // As on a host this browser never signed in on.
  jar.delete(new URL(origin).hostname, SESSION);
  const first = await send(jar, `${origin}/`, { headers: HTML });
  assert.equal(first.status, 302, first.body);
  const signIn = new URL(first.headers.get('location') ?? '');
  const second = await send(jar, signIn, { headers: HTML });
  assert.equal(second.status, 302, second.body);
  return { signIn, callback: new URL(second.headers.get('location') ?? '') };
}

/** A 400 page with `code` as its reference: no redirect, no session cookie. */
function assertRefused(hop: Hop, code: string): void {
  assert.equal(hop.status, 400, `${hop.url.href}: ${hop.status} ${hop.body.slice(0, 300)}`);
  assert.equal(hop.headers.get('location'), null, 'never a redirect');
  assert.match(hop.headers.get('content-type') ?? '', /^text\/html/);
  assert.ok(hop.body.includes(`<code>${code}</code>`), `${code} in ${hop.body.slice(0, 600)}`);
  const cookies = hop.headers.getSetCookie();
  assert.ok(
    !cookies.some((c) => c.startsWith(`${SESSION}=`) && !/Max-Age=0/.test(c)),
    `no session cookie: ${cookies.join(' | ')}`,
  );
}

describe('sign-in across hosts', () => {
  let f: Fixtures;
  let sys: System;
  let o: Origins;

  before(async () => {
    f = await startFixtures();
    sys = await startSystem(f, true);
    o = sys.origins;
  });
  after(async () => {
    await sys?.gateway.close();
    await f?.servers.close();
    await f?.echo.close();
    await f?.undoResolver();
    f?.ca.remove();
    if (f) rmSync(f.dir, { recursive: true, force: true });
  });

  it('a browser signs in once, on the authenticate host, and is handed to each host', async () => {
    const jar = new CookieJar();
    assert.equal((await userOn(jar, o.sqlite)).status, 401);

    const first = await browse(jar, `${o.whoami}/hello?x=1`);
    assert.equal(first.passwordAsked, true);
    assert.equal(first.last.url.href, `${o.whoami}/hello?x=1`, 'back on the page it asked for');
    const echoed = JSON.parse(first.last.body) as { claims: { email?: string; aud?: string } };
    assert.equal(echoed.claims.email, EMAIL);
    assert.equal(echoed.claims.aud, 'whoami.example.test');
    const visited = first.hops.map((h) => `${h.url.origin}${h.url.pathname}`);
    assert.ok(visited.includes(`${o.auth}/.pomerium/sign_in`), visited.join('\n'));
    assert.ok(visited.includes(`${o.auth}/oauth2/callback`), 'the provider answers on auth');
    assert.ok(visited.includes(`${o.whoami}/.pomerium/callback/`), visited.join('\n'));
    assert.ok(
      first.hops.every((h) => !h.url.host.startsWith('whoami') || !h.url.pathname.includes('idp')),
      'only the authenticate host talks to the identity provider',
    );
    const callback = first.hops.find((h) => h.url.pathname === '/.pomerium/callback/') as Hop;
    assert.deepEqual([...callback.url.searchParams.keys()], ['code'], 'only a code travels');

    // Host-only `__Host-` cookies, one per host, for the one session.
    for (const host of ['auth.example.test', 'whoami.example.test']) {
      const cookie = jar.get(host, SESSION);
      assert.ok(cookie, `a session cookie on ${host}: ${jar.names(host).join(', ')}`);
      assert.match(cookie.attributes, /Path=\/; HttpOnly; SameSite=Lax; Secure/);
      assert.doesNotMatch(cookie.attributes, /Domain=/i);
    }
    assert.deepEqual(
      jar.names('whoami.example.test').filter((n) => n.includes('handoff')),
      [],
      'the flow cookie is cleared',
    );

    // The next host passes straight through: no password.
    const second = await browse(jar, `${o.sqlite}/`);
    assert.equal(second.passwordAsked, false);
    assert.equal(second.last.url.origin, o.sqlite);
    for (const origin of [o.auth, o.sqlite, o.whoami]) {
      assert.deepEqual(await userOn(jar, origin), { status: 200, email: EMAIL }, origin);
    }
  });

  it('Chromium signs in once and is signed in on every host', async () => {
    const browser = await launchChromium([CHROMIUM_HOST_RULES]);
    try {
      const context = await browser.newContext({ ignoreHTTPSErrors: true });
      const page = await context.newPage();
      const seen: string[] = [];
      page.on('request', (r) => seen.push(r.url()));
      await page.goto(`${o.whoami}/from-chromium`);
      assert.equal(new URL(page.url()).origin, o.auth, 'the password form is on the auth host');
      await page.fill('input[name="email"]', EMAIL);
      await page.fill('input[name="password"]', PASSWORD);
      await Promise.all([
        page.waitForURL(`${o.whoami}/from-chromium`),
        page.click('button[type="submit"]'),
      ]);
      const echoed = JSON.parse(await page.locator('body').innerText()) as {
        claims: { email: string };
      };
      assert.equal(echoed.claims.email, EMAIL);

      await page.goto(`${o.sqlite}/`);
      assert.equal(await page.locator('input[name="password"]').count(), 0, 'no password asked');
      assert.equal(new URL(page.url()).origin, o.sqlite);
      for (const origin of [o.auth, o.sqlite, o.whoami]) {
        const res = await page.goto(`${origin}/.pomerium/user`);
        assert.equal(res?.status(), 200, origin);
        assert.equal(((await res?.json()) as { email: string }).email, EMAIL);
      }
      const sessions = (await context.cookies()).filter((c) => c.name === SESSION);
      assert.deepEqual(sessions.map((c) => c.domain).sort(), [
        'auth.example.test',
        'sqlite.example.test',
        'whoami.example.test',
      ]);
      assert.ok(sessions.every((c) => c.secure && c.httpOnly && c.sameSite === 'Lax'));
      const passwordPages = seen.filter((u) => u.includes('/.pomerium/idp/interaction/'));
      assert.ok(
        passwordPages.every((u) => u.startsWith(o.auth)),
        passwordPages.join('\n'),
      );
      assert.equal(new Set(passwordPages).size, 1, 'one sign-in for three hosts');
    } finally {
      await browser.close();
    }
  });

  it('the SDK authorizes on the SQLite host through the authenticate host; sign-out on another host ends it all', async () => {
    const jar = new CookieJar();
    const gatewayOrigins = [o.auth, o.sqlite];
    const oauth = new BrowserOAuthProvider({
      email: EMAIL,
      password: PASSWORD,
      jar,
      gatewayOrigins,
    });
    await authorizeWithSdk(oauth, `${o.sqlite}/`);
    const run = oauth.lastRun;
    assert.equal(run?.signedIn, true);
    assert.equal(run?.consentShown, true);
    assert.equal(run?.location.searchParams.get('iss'), o.sqlite, 'the MCP host is the issuer');
    const paths = run?.hops.map((h) => `${h.url.origin}${h.url.pathname}`) ?? [];
    assert.ok(paths.includes(`${o.auth}/.pomerium/sign_in`), paths.join('\n'));
    assert.ok(paths.includes(`${o.sqlite}/.pomerium/callback/`), paths.join('\n'));
    assert.ok(paths.some((p) => p.startsWith(`${o.sqlite}/.pomerium/mcp/interaction/`)));

    const client = new Client({ name: 'signin-hosts-test', version: '0.0.0' });
    await client.connect(
      new StreamableHTTPClientTransport(new URL(`${o.sqlite}/`), { authProvider: oauth }),
    );
    const tables = firstText(await client.callTool({ name: 'list_tables', arguments: {} }));
    assert.match(tables, /\bt\b/);
    await client.close();

    // Authorizing again: the session on the SQLite host is reused, no password.
    oauth.forgetTokens();
    await authorizeWithSdk(oauth, `${o.sqlite}/`);
    assert.equal(oauth.lastRun?.signedIn, false);
    const token = oauth.tokens()?.access_token ?? '';

    assert.equal((await browse(jar, `${o.whoami}/`)).passwordAsked, false);
    const confirm = await send(jar, `${o.whoami}/.pomerium/sign_out`);
    assert.equal(confirm.status, 200);
    const out = await send(jar, `${o.whoami}/.pomerium/sign_out`, {
      method: 'POST',
      headers: { origin: o.whoami },
    });
    assert.equal(out.status, 302, out.body);
    for (const origin of [o.auth, o.sqlite, o.whoami]) {
      assert.equal((await userOn(jar, origin)).status, 401, `signed out on ${origin}`);
    }
    // The MCP grant made under the session died with it.
    const call = await fetch(`${o.sqlite}/`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${token}`,
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
      },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }),
    });
    assert.equal(call.status, 401);
    // And the next visit signs in at the provider again, for a new session, with the password:
    // the provider's login session (its cookie on the authenticate host) ended too.
    const again = await browse(jar, `${o.sqlite}/`);
    assert.ok(again.hops.some((h) => h.url.href.startsWith(`${o.auth}/oauth2/callback`)));
    assert.equal(again.passwordAsked, true);
  });

  describe('hostile hand-offs', () => {
    const jar = new CookieJar();
    before(async () => {
      assert.equal((await browse(jar, `${o.whoami}/`)).passwordAsked, true);
    });

    it('a hand-off is good once, on its host, in its browser, and with or without the slash', async () => {
      const { callback } = await pendingHandoff(jar, o.sqlite);
      for (const method of ['HEAD', 'POST']) {
        const other = await send(jar, callback, { method });
        assert.equal(other.status, 405, `${method} spends no code`);
      }
      const bare = new URL(callback);
      bare.pathname = '/.pomerium/callback';
      const ok = await send(jar, bare);
      assert.equal(ok.status, 302, ok.body);
      assert.equal(ok.headers.get('location'), '/');
      assertRefused(await send(jar, callback), 'ERR_HANDOFF_USED');
    });

    it('replayed', async () => {
      const { callback } = await pendingHandoff(jar, o.sqlite);
      assert.equal((await send(jar, callback)).status, 302);
      assertRefused(await send(jar, callback), 'ERR_HANDOFF_USED');
    });

    it('expired', async () => {
      const { callback } = await pendingHandoff(jar, o.sqlite);
      sys.skewMs = MINUTE + 1000;
      try {
        assertRefused(await send(jar, callback), 'ERR_HANDOFF_UNKNOWN');
      } finally {
        sys.skewMs = 0;
      }
    });

    it('presented on another host (and spent there)', async () => {
      const { callback } = await pendingHandoff(jar, o.sqlite);
      const elsewhere = new URL(callback.pathname + callback.search, o.whoami);
      assertRefused(await send(jar, elsewhere), 'ERR_HANDOFF_HOST');
      assertRefused(await send(jar, callback), 'ERR_HANDOFF_USED');
    });

    it('presented in another browser (login CSRF)', async () => {
      const { callback } = await pendingHandoff(jar, o.sqlite);
      const victim = new CookieJar();
      assertRefused(await send(victim, callback), 'ERR_HANDOFF_BROWSER');
      assert.equal((await userOn(victim, o.sqlite)).status, 401);
    });

    it('unknown or missing codes', async () => {
      assertRefused(
        await send(jar, `${o.sqlite}/.pomerium/callback/?code=${randomId(32)}`),
        'ERR_HANDOFF_UNKNOWN',
      );
      assertRefused(await send(jar, `${o.sqlite}/.pomerium/callback/`), 'ERR_HANDOFF_UNKNOWN');
    });

    it('a tampered sign-in request', async () => {
      const { signIn } = await pendingHandoff(jar, o.sqlite);
      const [payload = '', mac = ''] = (signIn.searchParams.get('request') ?? '').split('.');
      const claims = JSON.parse(Buffer.from(payload, 'base64url').toString()) as { t: string };
      claims.t = o.whoami;
      const retargeted = Buffer.from(JSON.stringify(claims)).toString('base64url');
      const flipped = (mac.startsWith('A') ? 'B' : 'A') + mac.slice(1);
      for (const request of [`${retargeted}.${mac}`, `${payload}.${flipped}`, payload, '']) {
        const url = new URL(signIn);
        url.searchParams.set('request', request);
        assertRefused(await send(jar, url), 'ERR_SIGNIN_REQUEST');
      }
    });

    it('a sign-in request to a host that is no route (signed with the real key)', async () => {
      const signer = new SignInRequestSigner(TEST_SHARED_SECRET);
      const port = new URL(o.auth).port;
      for (const target of [
        `https://evil.example.test:${port}`,
        'https://sqlite.example.test',
        `http://sqlite.example.test:${port}`,
        o.auth,
      ]) {
        const request = signer.sign({
          target,
          returnTo: '/',
          binding: 'x'.repeat(43),
          expiresAt: Date.now() + MINUTE,
        });
        const hop = await send(jar, `${o.auth}/.pomerium/sign_in?request=${request}`);
        assertRefused(hop, 'ERR_SIGNIN_TARGET');
      }
    });

    it('an expired sign-in request, and one presented off the authenticate host', async () => {
      const { signIn } = await pendingHandoff(jar, o.sqlite);
      sys.skewMs = 5 * MINUTE + 1000;
      try {
        assertRefused(await send(jar, signIn), 'ERR_SIGNIN_REQUEST_EXPIRED');
      } finally {
        sys.skewMs = 0;
      }
      const offHost = new URL(signIn.pathname + signIn.search, o.sqlite);
      assertRefused(await send(jar, offHost), 'ERR_SIGNIN_HOST');
    });

    it('every refusal was logged with its reason', () => {
      const codes = sys.logs
        .lines()
        .filter((l) => l.msg === 'sign-in failed')
        .map((l) => l.code);
      for (const code of [
        'ERR_HANDOFF_USED',
        'ERR_HANDOFF_UNKNOWN',
        'ERR_HANDOFF_HOST',
        'ERR_HANDOFF_BROWSER',
        'ERR_SIGNIN_REQUEST',
        'ERR_SIGNIN_TARGET',
        'ERR_SIGNIN_REQUEST_EXPIRED',
        'ERR_SIGNIN_HOST',
      ]) {
        assert.ok(codes.includes(code), `${code} logged`);
      }
    });
  });

  describe('without authenticate_service_url: the first route host signs in', () => {
    let plain: System;
    before(async () => {
      plain = await startSystem(f, false);
    });
    after(async () => {
      await plain?.gateway.close();
    });

    it('the second route host hands off from the first', async () => {
      const jar = new CookieJar();
      const { sqlite, whoami } = plain.origins;
      const visit = await browse(jar, `${whoami}/x`);
      assert.equal(visit.passwordAsked, true);
      assert.equal(visit.last.url.href, `${whoami}/x`);
      const visited = visit.hops.map((h) => `${h.url.origin}${h.url.pathname}`);
      assert.ok(visited.includes(`${sqlite}/.pomerium/sign_in`), visited.join('\n'));
      assert.ok(visited.some((p) => p.startsWith(`${sqlite}/.pomerium/idp/`)));
      assert.ok(visited.includes(`${whoami}/.pomerium/callback/`));
      assert.deepEqual(await userOn(jar, sqlite), { status: 200, email: EMAIL });
      assert.deepEqual(await userOn(jar, whoami), { status: 200, email: EMAIL });
    });
  });
});
