/**
 * Sign-in through a real external OpenID provider (oidc-provider, started here): the code
 * flow with PKCE end to end, the session cookie, /.pomerium/user, refresh, sign-out (refresh
 * token revoked, id_token_hint), and the refusals (replayed or forged state, tampered cookie).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { deriveKey, open, sha256Hex } from '../src/core/crypto.js';
import { SessionManager } from '../src/session/manager.js';
import { createRelyingParty } from '../src/session/oidc.js';
import { createMemoryStorage } from '../src/storage/memory.js';
import type { Storage } from '../src/storage/types.js';
import { CookieJar, follow, send, type Hop } from './support/cookie-jar.js';
import { startOidcIdp, TEST_USER, type TestIdp } from './support/oidc-idp.js';
import { startSigninApp, type SigninApp } from './support/signin-app.js';

const SESSION = 'portcullis_session';
const SHARED_SECRET = 'shared-secret-for-tests-0123456789';
const REVOCATION_TIMEOUT_S = 0.5;
const warnings: string[] = [];
const logger = {
  debug() {},
  info() {},
  warn(_obj: object, msg: string) {
    warnings.push(msg);
  },
  error() {},
};

describe('sign-in through an external OIDC provider', () => {
  let storage: Storage;
  let idp: TestIdp;
  let app: SigninApp;
  let skew = 0;

  before(async () => {
    storage = createMemoryStorage();
    app = await startSigninApp(async (origin) => {
      idp = await startOidcIdp({
        redirectUris: [`${origin}/oauth2/callback`],
        postLogoutRedirectUris: [`${origin}/`],
      });
      const rp = createRelyingParty({
        issuerUrl: idp.issuer,
        clientId: idp.clientId,
        clientSecret: idp.clientSecret,
        redirectUri: `${origin}/oauth2/callback`,
        revocationTimeoutSeconds: REVOCATION_TIMEOUT_S,
      });
      const sessions = new SessionManager({
        storage,
        cookieSecret: 'cookie-secret-for-tests-0123456789',
        sharedSecret: SHARED_SECRET,
        secureCookies: false,
        idp: rp,
        clock: () => Date.now() + skew,
        logger,
      });
      return { sessions, servers: [{ name: 'DB', url: `${origin}/sqlite` }] };
    });
  });

  after(async () => {
    await app.close();
    await idp.close();
    await storage.close();
  });

  /** Goes from `path` to the provider's login form; returns the hops and the form's URL. */
  async function toLoginForm(jar: CookieJar, path: string) {
    const hops = await follow(jar, app.origin + path);
    const last = hops.at(-1) as Hop;
    assert.equal(last.status, 200, last.body);
    assert.match(last.url.pathname, /^\/interaction\//);
    return { hops, formUrl: last.url };
  }

  async function signIn(jar: CookieJar, path = '/private?x=1') {
    const { hops: before, formUrl } = await toLoginForm(jar, path);
    const hops = await follow(jar, formUrl, {
      form: { login: TEST_USER.email, password: TEST_USER.password },
    });
    return { before, hops, last: hops.at(-1) as Hop };
  }

  const host = () => new URL(app.origin).hostname;

  it('completes the code flow with PKCE and returns to the page asked for', async () => {
    const jar = new CookieJar();
    const { before: start, hops, last } = await signIn(jar);
    const authorize = new URL(start[0]?.headers.get('location') ?? '');
    assert.equal(authorize.origin, idp.issuer);
    assert.equal(authorize.searchParams.get('code_challenge_method'), 'S256');
    assert.ok((authorize.searchParams.get('code_challenge') ?? '').length >= 43);
    assert.ok(authorize.searchParams.get('state'));
    assert.ok(authorize.searchParams.get('nonce'));
    assert.equal(authorize.searchParams.get('redirect_uri'), `${app.origin}/oauth2/callback`);

    const callback = hops.find((h) => h.url.pathname === '/oauth2/callback');
    assert.ok(callback, 'the provider redirected to the callback');
    assert.equal(callback.status, 302);
    assert.equal(callback.headers.get('location'), '/private?x=1');
    assert.equal(last.url.pathname + last.url.search, '/private?x=1');
    assert.equal(last.status, 200);
    assert.match(last.body, /Alice Example/);
    assert.match(last.body, /\/sqlite/);

    const user = await send(jar, `${app.origin}/.pomerium/user`);
    assert.equal(user.status, 200);
    const body = JSON.parse(user.body) as Record<string, unknown>;
    assert.equal(body.sub, TEST_USER.sub);
    assert.equal(body.email, TEST_USER.email);
    assert.equal(body.name, TEST_USER.name);
    assert.deepEqual(body.groups, TEST_USER.groups);
    assert.equal((body.claims as Record<string, unknown>).iss, idp.issuer);
  });

  it('sets the session cookie HttpOnly, SameSite=Lax, Path=/, host-only, and clears login state', async () => {
    const jar = new CookieJar();
    const { hops } = await signIn(jar);
    const callback = hops.find((h) => h.url.pathname === '/oauth2/callback') as Hop;
    const cookies = callback.headers.getSetCookie();
    const session = cookies.find((c) => c.startsWith(`${SESSION}=`));
    assert.ok(session, cookies.join('\n'));
    const attrs = session.split(';').map((s) => s.trim().toLowerCase());
    assert.ok(attrs.includes('httponly'));
    assert.ok(attrs.includes('samesite=lax'));
    assert.ok(attrs.includes('path=/'));
    assert.ok(!attrs.some((a) => a.startsWith('domain=')));
    assert.ok(!attrs.includes('secure'), 'no Secure without TLS');
    assert.ok(cookies.some((c) => /^portcullis_signin_[0-9a-f]{16}=;.*Max-Age=0/.test(c)));
    assert.deepEqual(
      jar.names(host()).filter((n) => n.startsWith('portcullis')),
      [SESSION],
    );
    // Only the hash of the session id reaches storage.
    const value = jar.get(host(), SESSION)?.value ?? '';
    assert.match(value, /^v1\./, 'the cookie is sealed');
  });

  it('refuses a replayed callback and a forged state', async () => {
    const jar = new CookieJar();
    const { formUrl } = await toLoginForm(jar, '/replay');
    const stateCookie = jar.names(host()).find((n) => n.startsWith('portcullis_signin_')) ?? '';
    const stateValue = jar.get(host(), stateCookie)?.value ?? '';
    const hops = await follow(jar, formUrl, {
      form: { login: TEST_USER.email, password: TEST_USER.password },
    });
    const callback = hops.find((h) => h.url.pathname === '/oauth2/callback') as Hop;
    assert.equal(callback.status, 302);

    // The same callback again, even with the login-state cookie put back: refused, no session.
    const attacker = new CookieJar();
    attacker.set(host(), stateCookie, stateValue);
    const replay = await send(attacker, callback.url);
    assert.equal(replay.status, 400);
    assert.equal(replay.headers.get('location'), null);
    assert.match(replay.headers.get('content-type') ?? '', /text\/html/);
    assert.ok(!attacker.names(host()).includes(SESSION));

    // Same browser, login state already used.
    const again = await send(jar, callback.url);
    assert.equal(again.status, 400);

    // A state with no login-state cookie behind it.
    const forged = new URL(callback.url);
    forged.searchParams.set('state', 'forged-state-value');
    const refused = await send(new CookieJar(), forged);
    assert.equal(refused.status, 400);
    assert.match(refused.body, /ERR_SIGNIN_STATE/);
  });

  it('renders an error page, never a redirect, when the provider reports an error', async () => {
    const jar = new CookieJar();
    const start = await send(jar, `${app.origin}/denied`);
    const state = new URL(start.headers.get('location') ?? '').searchParams.get('state') ?? '';
    const res = await send(
      jar,
      `${app.origin}/oauth2/callback?error=access_denied&state=${encodeURIComponent(state)}`,
    );
    assert.equal(res.status, 400);
    assert.equal(res.headers.get('location'), null);
    assert.match(res.body, /cancelled or refused/);
    assert.equal(res.headers.get('cache-control'), 'no-store');
  });

  it('refuses a tampered or foreign session cookie', async () => {
    const jar = new CookieJar();
    await signIn(jar);
    const value = jar.get(host(), SESSION)?.value ?? '';
    const parts = value.split('.');
    const ct = parts[2] ?? '';
    parts[2] = (ct[0] === 'A' ? 'B' : 'A') + ct.slice(1);
    const tampered = new CookieJar();
    tampered.set(host(), SESSION, parts.join('.'));
    assert.equal((await send(tampered, `${app.origin}/.pomerium/user`)).status, 401);
    const raw = new CookieJar();
    raw.set(host(), SESSION, 'not-a-sealed-value');
    const res = await send(raw, `${app.origin}/.pomerium/user`);
    assert.equal(res.status, 401);
    // The one "not signed in" body, as a route answers it (issue 9).
    assert.deepEqual(JSON.parse(res.body), {
      error: 'unauthorized',
      error_description: 'sign in to use this route',
    });
    // An unauthenticated page request starts sign-in instead.
    const page = await send(raw, `${app.origin}/x`);
    assert.equal(page.status, 302);
    assert.ok(page.headers.get('location')?.startsWith(idp.issuer));
  });

  it('refreshes the provider tokens shortly before they expire, once for concurrent requests', async () => {
    const jar = new CookieJar();
    await signIn(jar);
    const sessions = [...(await sessionRecords(jar))];
    const record = sessions[0];
    assert.ok(record?.idpRefreshTokenEnc, 'a refresh token is kept, sealed');
    const refreshesBefore = idp.refreshCount;
    // ID tokens carry whole seconds: the refreshed one differs only from the next second on.
    await new Promise((resolve) => setTimeout(resolve, 1010 - (Date.now() % 1000)));
    skew = record.idpExpiresAt - Date.now() - 30_000; // inside the 60 s margin
    try {
      const results = await Promise.all(
        [1, 2, 3].map(() => send(jar, `${app.origin}/.pomerium/user`)),
      );
      for (const r of results) assert.equal(r.status, 200);
      assert.equal(idp.refreshCount, refreshesBefore + 1);
      const [updated] = await sessionRecords(jar);
      assert.ok(updated && updated.idpExpiresAt > record.idpExpiresAt);
      assert.notEqual(updated.idpRefreshTokenEnc, null);
      // The refresh returned a new ID token: the session keeps the newest for id_token_hint.
      const oldIdToken = openSealed('idp-id-token', record.idpIdTokenEnc, record.idHash);
      const newIdToken = openSealed('idp-id-token', updated.idpIdTokenEnc, updated.idHash);
      const [before, after] = [await verifyIdToken(oldIdToken), await verifyIdToken(newIdToken)];
      assert.equal(after.payload.sub, TEST_USER.sub);
      assert.ok((after.payload.iat ?? 0) > (before.payload.iat ?? 0), 'the newest ID token');
    } finally {
      skew = 0;
    }
  });

  it('ends the session when the provider refuses the refresh', async () => {
    const jar = new CookieJar();
    await signIn(jar);
    const [record] = await sessionRecords(jar);
    assert.ok(record);
    idp.setUserEnabled(false);
    skew = record.idpExpiresAt - Date.now();
    try {
      assert.equal((await send(jar, `${app.origin}/.pomerium/user`)).status, 401);
      assert.equal(await storage.sessions.get(record.idHash, Date.now()), undefined);
    } finally {
      skew = 0;
      idp.setUserEnabled(true);
    }
  });

  it('signs out: deletes the session, clears the cookie, revokes the refresh token, logs out at the provider', async () => {
    const jar = new CookieJar();
    await signIn(jar);
    const other = new CookieJar();
    await signIn(other);
    const oldCookie = jar.get(host(), SESSION)?.value ?? '';
    const [record] = await sessionRecords(jar);
    const [kept] = await sessionRecords(other);
    assert.ok(record && kept);
    const refreshToken = openSealed('idp-refresh-token', record.idpRefreshTokenEnc, record.idHash);
    const idToken = openSealed('idp-id-token', record.idpIdTokenEnc, record.idHash);
    const revocations = idp.revocationRequests;
    const res = await send(jar, `${app.origin}/.pomerium/sign_out`, {
      method: 'POST',
      headers: { origin: app.origin },
    });
    assert.equal(res.status, 302);
    const location = new URL(res.headers.get('location') ?? '');
    assert.equal(location.origin, idp.issuer);
    assert.equal(location.searchParams.get('client_id'), idp.clientId);
    assert.equal(location.searchParams.get('post_logout_redirect_uri'), `${app.origin}/`);
    assert.ok(res.headers.getSetCookie().some((c) => c.startsWith(`${SESSION}=;`)));
    assert.equal(jar.get(host(), SESSION), undefined);
    assert.equal(await storage.sessions.get(record.idHash, Date.now()), undefined);
    const stale = new CookieJar();
    stale.set(host(), SESSION, oldCookie);
    assert.equal((await send(stale, `${app.origin}/.pomerium/user`)).status, 401);

    // RFC 7009: that refresh token was revoked at the provider, and only that one.
    assert.equal(idp.revocationRequests, revocations + 1);
    assert.deepEqual(await refreshAtIdp(refreshToken), { status: 400, error: 'invalid_grant' });
    const other_ = openSealed('idp-refresh-token', kept.idpRefreshTokenEnc, kept.idHash);
    assert.equal((await refreshAtIdp(other_)).status, 200, 'another session keeps its token');

    // RP-Initiated Logout §2: id_token_hint is the user's ID token from sign-in.
    const hint = location.searchParams.get('id_token_hint') ?? '';
    assert.equal(hint, idToken);
    const { payload } = await verifyIdToken(hint);
    assert.equal(payload.sub, TEST_USER.sub);
    // The provider accepts the hint: its logout page (a confirmation form), not an error.
    const confirm = await send(jar, location);
    assert.equal(confirm.status, 200, confirm.body);
    assert.doesNotMatch(confirm.body, /^error/);
  });

  it('signs out promptly when the provider revocation endpoint hangs', async () => {
    const jar = new CookieJar();
    await signIn(jar);
    const [record] = await sessionRecords(jar);
    assert.ok(record);
    const revocations = idp.revocationRequests;
    warnings.length = 0;
    idp.setRevocationHang(true);
    try {
      const started = performance.now();
      const res = await send(jar, `${app.origin}/.pomerium/sign_out`, {
        method: 'POST',
        headers: { origin: app.origin },
      });
      const elapsed = performance.now() - started;
      assert.equal(res.status, 302);
      assert.ok(elapsed < REVOCATION_TIMEOUT_S * 1000 + 1500, `sign-out took ${elapsed} ms`);
      assert.equal(idp.revocationRequests, revocations + 1, 'the revocation was attempted');
      assert.ok(
        warnings.some((w) => /did not revoke/.test(w)),
        warnings.join('\n'),
      );
      const location = new URL(res.headers.get('location') ?? '');
      assert.equal(location.origin, idp.issuer);
      assert.ok(location.searchParams.get('id_token_hint'));
      assert.equal(await storage.sessions.get(record.idHash, Date.now()), undefined);
    } finally {
      idp.setRevocationHang(false);
    }
  });

  it('keeps returnTo to same-origin paths', async () => {
    const jar = new CookieJar();
    const { hops } = await signIn(jar, '//evil.example/steal');
    const callback = hops.find((h) => h.url.pathname === '/oauth2/callback') as Hop;
    assert.equal(callback.headers.get('location'), '/');
  });

  /** A token the session module sealed for the session row `idHash`, opened. */
  function openSealed(purpose: string, sealed: string | null, idHash: string): string {
    assert.ok(sealed, `a sealed ${purpose} is kept`);
    return open(deriveKey(SHARED_SECRET, purpose), sealed, idHash);
  }

  /** Checks an ID token against the provider's keys, issuer and our client_id (OIDC Core §3.1.3.7). */
  function verifyIdToken(token: string) {
    const jwks = createRemoteJWKSet(new URL(`${idp.issuer}/jwks`));
    return jwtVerify(token, jwks, { issuer: idp.issuer, audience: idp.clientId });
  }

  /** What the provider's token endpoint answers to a refresh with `refreshToken`. */
  async function refreshAtIdp(refreshToken: string) {
    const basic = Buffer.from(`${idp.clientId}:${idp.clientSecret}`).toString('base64');
    const res = await fetch(`${idp.issuer}/token`, {
      method: 'POST',
      headers: { authorization: `Basic ${basic}` },
      body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: refreshToken }),
    });
    const body = (await res.json()) as { error?: string };
    return res.ok ? { status: res.status } : { status: res.status, error: body.error };
  }

  /** The stored session behind the jar's cookie (found by trying every stored hash). */
  async function sessionRecords(jar: CookieJar) {
    const manager = app.parts.sessions;
    const req = { headers: { cookie: `${SESSION}=${jar.get(host(), SESSION)?.value ?? ''}` } };
    const id = (
      manager as unknown as {
        cookies: { readSessionId(r: unknown): string | undefined };
      }
    ).cookies.readSessionId(req);
    assert.ok(id, 'the cookie opens');
    const rec = await storage.sessions.get(sha256Hex(id), Date.now());
    return rec ? [rec] : [];
  }
});
