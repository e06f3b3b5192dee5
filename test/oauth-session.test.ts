/**
 * An MCP client's tokens live only as long as the gateway session they were granted under:
 * signing out (or the session expiring) refuses the access token (401 `invalid_token`) and
 * the refresh token (`invalid_grant`), and revokes the grant; tokens granted under another,
 * still-live session keep working.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { CookieJar, follow, send } from './support/cookie-jar.js';
import {
  authorizeCode,
  exchange,
  mcpWithToken,
  startOAuthGateway,
  tokenRequest,
  type OAuthTestGateway,
} from './support/oauth-flow.js';

interface Tokens {
  readonly clientId: string;
  readonly access: string;
  readonly refresh: string;
}

describe('MCP tokens die with the gateway session', () => {
  let gw: OAuthTestGateway;
  before(async () => {
    gw = await startOAuthGateway();
  });
  after(() => gw?.close());

  /** Signs in with a fresh browser (a session of its own), authorizes and exchanges. */
  async function grantIn(jar: CookieJar): Promise<Tokens> {
    const a = await authorizeCode({ ...gw, jar });
    const t = await exchange(gw, a);
    assert.equal(t.status, 200, JSON.stringify(t.body));
    assert.ok(typeof t.body.refresh_token === 'string', 'a refresh token is issued');
    return {
      clientId: a.clientId,
      access: String(t.body.access_token),
      refresh: String(t.body.refresh_token),
    };
  }

  const refresh = (t: Tokens) =>
    tokenRequest(gw.origin, {
      grant_type: 'refresh_token',
      refresh_token: t.refresh,
      client_id: t.clientId,
    });

  async function signOut(jar: CookieJar): Promise<void> {
    const out = await send(jar, `${gw.origin}/.pomerium/sign_out`, {
      method: 'POST',
      headers: { origin: gw.origin },
    });
    assert.equal(out.status, 302);
  }

  async function assertRefused(t: Tokens): Promise<void> {
    const res = await mcpWithToken(gw, '/sqlite', t.access);
    assert.equal(res.status, 401, await res.text());
    assert.match(res.headers.get('www-authenticate') ?? '', /error="invalid_token"/);
  }

  it('after sign-out the access token gets 401 invalid_token, then the refresh token invalid_grant', async () => {
    const jar = new CookieJar();
    const t = await grantIn(jar);
    assert.equal((await mcpWithToken(gw, '/sqlite', t.access)).status, 200, 'works signed in');
    await signOut(jar);
    await assertRefused(t);
    const r = await refresh(t);
    assert.equal(r.status, 400, JSON.stringify(r.body));
    assert.equal(r.body.error, 'invalid_grant');
  });

  it('after sign-out the refresh token gets invalid_grant and the grant is revoked', async () => {
    const jar = new CookieJar();
    const t = await grantIn(jar);
    assert.equal((await mcpWithToken(gw, '/sqlite', t.access)).status, 200, 'works signed in');
    await signOut(jar);
    const r = await refresh(t);
    assert.equal(r.status, 400, JSON.stringify(r.body));
    assert.equal(r.body.error, 'invalid_grant');
    const now = Date.now();
    assert.equal(await gw.gateway.storage.oauth.find('RefreshToken', t.refresh, now), undefined);
    assert.equal(await gw.gateway.storage.oauth.find('AccessToken', t.access, now), undefined);
    await assertRefused(t);
  });

  it('a token granted under another, still-live session keeps working', async () => {
    const leaving = new CookieJar();
    const staying = new CookieJar();
    const gone = await grantIn(leaving);
    const kept = await grantIn(staying);
    assert.equal((await mcpWithToken(gw, '/sqlite', gone.access)).status, 200);
    assert.equal((await mcpWithToken(gw, '/sqlite', kept.access)).status, 200);
    await signOut(leaving);
    await assertRefused(gone);
    assert.equal((await mcpWithToken(gw, '/sqlite', kept.access)).status, 200, 'still live');
    const r = await refresh(kept);
    assert.equal(r.status, 200, JSON.stringify(r.body));
    const next = String(r.body.access_token);
    assert.equal((await mcpWithToken(gw, '/sqlite', next)).status, 200);
  });

  it('after sign-out the next sign-in asks for the password: the built-in provider’s login session ended too', async () => {
    const jar = new CookieJar();
    assert.equal((await authorizeCode({ ...gw, jar })).run.signedIn, true, 'asked the first time');
    // Without the gateway's cookie, the provider's login session alone signs the browser in.
    jar.delete('localhost', 'portcullis_session');
    assert.equal((await authorizeCode({ ...gw, jar })).run.signedIn, false, 'no password');
    const out = await send(jar, `${gw.origin}/.pomerium/sign_out`, {
      method: 'POST',
      headers: { origin: gw.origin },
    });
    assert.equal(out.status, 302, out.body);
    // Where the browser goes next: a new sign-in, no confirmation at the provider first.
    const hops = await follow(jar, new URL(out.headers.get('location') ?? '', out.url));
    const page = hops.at(-1);
    assert.match(page?.url.pathname ?? '', /^\/\.pomerium\/idp\/interaction\//, page?.url.href);
    assert.match(page?.body ?? '', /name="password"/);
    // An MCP client's authorization, signing in anew, is asked for it too.
    assert.equal((await authorizeCode({ ...gw, jar })).run.signedIn, true, 'asked again');
  });

  // Last: it expires every session of this gateway.
  it('a session that expired (or ended on another replica) takes its tokens with it', async () => {
    const t = await grantIn(new CookieJar());
    // Not through this process's sign-out: the session is simply gone from storage.
    await gw.gateway.storage.sessions.sweep(Date.now() + 366 * 24 * 3_600_000);
    await assertRefused(t);
    const r = await refresh(t);
    assert.equal(r.body.error, 'invalid_grant', JSON.stringify(r.body));
  });
});
