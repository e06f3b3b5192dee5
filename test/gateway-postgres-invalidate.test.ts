/**
 * Two gateway replicas on one PostgreSQL database, one public origin (as behind a load
 * balancer): a bearer token used on both, so both cache it, then revoked through A (RFC 7009)
 * is refused by B within a second; a sign-out on A ends B’s tokens of that session as fast;
 * while B cannot listen (connections refused, its listener cut) it answers from the database.
 * The lag B took is printed. Without invalidation across replicas it is B's cache life (5 s).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { hashPassword } from '../src/core/crypto.js';
import { CookieJar } from './support/cookie-jar.js';
import {
  gatewayYamlHead,
  send,
  SESSION_COOKIE,
  startTestGateway,
  type Sent,
  type TestGateway,
} from './support/gateway.js';
import { startJsonRpcUpstream, type JsonRpcUpstream } from './support/jsonrpc-upstream.js';
import { authorizeInBrowser } from './support/oauth-browser.js';
import {
  authorizationUrl,
  pkce,
  publicClient,
  register,
  tokenRequest,
} from './support/oauth-flow.js';
import { startPostgres, type TestPostgres } from './support/postgres.js';

const PASSWORD = 'invalidate-password';
const ADA = 'ada@example.com';
const REDIRECT = 'http://127.0.0.1:43111/callback';

/** Both replicas serve `publicPort`'s origin; each listens on its own port. */
function configYaml(
  port: number,
  publicPort: number,
  database: string,
  upstream: string,
  hash: string,
) {
  return `
${gatewayYamlHead(port)}
databroker_storage_type: postgres
databroker_storage_connection_string: ${database}
builtin_users:
  - { email: ${ADA}, name: Ada, groups: [admins], password_hash: '${hash}' }
routes:
  - from: http://localhost:${publicPort}
    prefix: /mcp
    to: ${upstream}/mcp
    allow_any_authenticated_user: true
    mcp: { server: {} }
`;
}

describe('cache invalidation across two gateways on one PostgreSQL', () => {
  let postgres: TestPostgres;
  let upstream: JsonRpcUpstream;
  let a: TestGateway;
  let b: TestGateway;
  let publicOrigin = '';
  let database = '';
  const jar = new CookieJar();

  before(async () => {
    [postgres, upstream] = await Promise.all([startPostgres(), startJsonRpcUpstream()]);
    database = await postgres.createDatabase('invalidate');
    const hash = await hashPassword(PASSWORD);
    // A listens on the public port itself; B on another, reached with the public Host.
    a = await startTestGateway((port) => configYaml(port, port, database, upstream.url, hash));
    publicOrigin = a.origin;
    b = await startTestGateway((port) => configYaml(port, a.port, database, upstream.url, hash));
  });
  after(async () => {
    await a?.close();
    await b?.close();
    await upstream?.close();
    await postgres?.stop();
  });

  /** A tools/list with `token` to `gw`, addressed to the public origin. */
  const call = (gw: TestGateway, token: string): Promise<Sent> =>
    send(gw.origin, {
      method: 'POST',
      path: '/mcp',
      headers: {
        host: new URL(publicOrigin).host,
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
        authorization: `Bearer ${token}`,
      },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }),
    });

  /** Registration, sign-in and consent on A, code exchange on B: an access token. */
  async function tokenOf(): Promise<{ token: string; clientId: string }> {
    const { clientId } = await register(publicOrigin, publicClient(REDIRECT));
    const { verifier, challenge } = pkce();
    const url = authorizationUrl(publicOrigin, {
      client_id: clientId,
      redirect_uri: REDIRECT,
      code_challenge: challenge,
      resource: `${publicOrigin}/mcp`,
    });
    const run = await authorizeInBrowser(url, { email: ADA, password: PASSWORD, jar });
    const code = run.location.searchParams.get('code');
    assert.ok(code, run.location.href);
    const t = await tokenRequest(publicOrigin, {
      grant_type: 'authorization_code',
      code,
      code_verifier: verifier,
      redirect_uri: REDIRECT,
      client_id: clientId,
      resource: `${publicOrigin}/mcp`,
    });
    assert.equal(t.status, 200, JSON.stringify(t.body));
    const token = String(t.body.access_token);
    // Used on both replicas, so both have it cached (and its grant's session).
    for (const gw of [a, b, a, b]) assert.equal((await call(gw, token)).status, 200);
    return { token, clientId };
  }

  /** Polls B every 50 ms (5 s at most) until it refuses `token`; returns how long it took. */
  async function refusedOnB(token: string, since: number, what: string): Promise<number> {
    for (;;) {
      const res = await call(b, token);
      const lag = performance.now() - since;
      if (res.status === 401) {
        console.log(`${what}: refused on the other replica after ${lag.toFixed(0)} ms`);
        return lag;
      }
      assert.equal(res.status, 200, res.body);
      if (lag > 5_000) assert.fail(`${what}: B still accepts the token after ${lag.toFixed(0)} ms`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  it('a token revoked through A (RFC 7009) is refused on B within a second', async () => {
    assert.equal(b.gateway.storage.invalidation?.healthy(), true);
    const { token, clientId } = await tokenOf();
    const revoke = await fetch(`${publicOrigin}/.pomerium/mcp/revoke`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token, token_type_hint: 'access_token', client_id: clientId }),
    });
    const since = performance.now();
    assert.equal(revoke.status, 200);
    assert.ok((await refusedOnB(token, since, 'revocation')) < 1_000);
    assert.equal((await call(a, token)).status, 401);
  });

  it('a sign-out on A ends the session’s tokens on B within a second', async () => {
    const { token } = await tokenOf();
    const session = jar.get('localhost', SESSION_COOKIE);
    assert.ok(session);
    const out = await send(a.origin, {
      method: 'POST',
      path: '/.pomerium/sign_out',
      headers: { cookie: `${SESSION_COOKIE}=${session.value}`, origin: publicOrigin },
    });
    const since = performance.now();
    assert.equal(out.status, 302);
    assert.ok((await refusedOnB(token, since, 'sign-out')) < 1_000);
  });

  it('while B cannot listen, its caches are bypassed: a revocation it never heard of holds at once', async () => {
    const { token, clientId } = await tokenOf();
    const url = new URL(database);
    const name = pg.escapeIdentifier(decodeURIComponent(url.pathname.slice(1)));
    const admin = new URL('/postgres', url).href;
    // New connections are refused (the pools keep theirs), and the listeners are cut.
    await postgres.query(admin, `ALTER DATABASE ${name} WITH ALLOW_CONNECTIONS false`);
    try {
      await postgres.query(
        admin,
        `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query LIKE 'LISTEN%'`,
      );
      const bus = b.gateway.storage.invalidation!;
      for (let i = 0; bus.healthy(); i++) {
        assert.ok(i < 100, 'B noticed its listener is gone');
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      const revoke = await fetch(`${publicOrigin}/.pomerium/mcp/revoke`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ token, client_id: clientId }),
      });
      assert.equal(revoke.status, 200);
      assert.equal((await call(b, token)).status, 401, 'B asked the database, not its cache');
    } finally {
      await postgres.query(admin, `ALTER DATABASE ${name} WITH ALLOW_CONNECTIONS true`);
    }
    const bus = b.gateway.storage.invalidation!;
    for (let i = 0; !bus.healthy(); i++) {
      assert.ok(i < 500, 'B listens again once the database lets it');
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  });
});
