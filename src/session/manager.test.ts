import assert from 'node:assert/strict';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { describe, it } from 'node:test';
import { deriveKey, seal, sha256Hex } from '../core/crypto.js';
import { createMemoryStorage } from '../storage/memory.js';
import { CookieCodec } from './cookie-codec.js';
import { SessionManager } from './manager.js';
import type { IdpTokens, OidcRelyingParty } from './oidc.js';

const silent = { debug() {}, info() {}, warn() {}, error() {} };
const COOKIE_SECRET = 'cookie-secret-0123456789abcdef0123';
const SHARED_SECRET = 'shared-secret-0123456789abcdef0123';

/** A stand-in provider: these tests are about the manager's own rules, not the protocol. */
function stubRp(refresh: () => Promise<IdpTokens>): OidcRelyingParty {
  return {
    issuerUrl: 'https://idp.example.com/',
    clientId: 'c',
    redirectUri: 'https://gw.example.com/oauth2/callback',
    authorizationUrl: async (r) => new URL(`https://idp.example.com/auth?state=${r.state}`),
    exchangeCode: () => Promise.reject(new Error('unused')),
    refresh,
    revokeRefreshToken: async () => false,
    endSessionUrl: async () => undefined,
  };
}

function fakeRes() {
  const headers = new Map<string, unknown>();
  let status = 0;
  const res = {
    headersSent: false,
    getHeader: (n: string) => headers.get(n),
    setHeader: (n: string, v: unknown) => headers.set(n, v),
    writeHead(s: number, h: Record<string, string> = {}) {
      status = s;
      for (const [k, v] of Object.entries(h)) headers.set(k, v);
      return res;
    },
    end: () => res,
    destroy: () => undefined,
  };
  return { res: res as unknown as ServerResponse, headers, status: () => status };
}

describe('SessionManager', () => {
  it('starts sign-in with a __Host- login-state cookie and a same-origin returnTo', async () => {
    const storage = createMemoryStorage();
    const m = new SessionManager({
      storage,
      cookieSecret: COOKIE_SECRET,
      sharedSecret: SHARED_SECRET,
      secureCookies: true,
      idp: stubRp(() => Promise.reject(new Error('unused'))),
      logger: silent,
    });
    const { res, headers, status } = fakeRes();
    await m.startSignIn({ headers: {} } as IncomingMessage, res, 'https://evil.example/');
    assert.equal(status(), 302);
    const state = new URL(String(headers.get('location'))).searchParams.get('state') ?? '';
    const [cookie] = headers.get('set-cookie') as string[];
    assert.match(
      cookie ?? '',
      /^__Host-portcullis_signin_[0-9a-f]{16}=v1\.[^;]+; Path=\/; HttpOnly; SameSite=Lax; Secure; Max-Age=600$/,
    );
    const codec = new CookieCodec(COOKIE_SECRET, true);
    const value = (cookie ?? '').split(';')[0]?.split('=')[1] ?? '';
    const login = codec.readLoginState(
      { headers: { cookie: `${codec.loginStateCookie(state)}=${value}` } } as IncomingMessage,
      state,
    );
    assert.equal(login?.returnTo, '/');
    assert.equal(m.sessionCookieName, '__Host-portcullis_session');
    await storage.close();
  });

  it('keeps a session through a provider outage until its tokens expire, then ends it', async () => {
    const storage = createMemoryStorage();
    let now = 1_000_000;
    const m = new SessionManager({
      storage,
      cookieSecret: COOKIE_SECRET,
      sharedSecret: SHARED_SECRET,
      secureCookies: false,
      idp: stubRp(() => Promise.reject(new TypeError('fetch failed'))),
      clock: () => now,
      logger: silent,
    });
    const id = 'the-session-id';
    const idHash = sha256Hex(id);
    await storage.sessions.put({
      idHash,
      sub: 'u',
      email: null,
      name: null,
      groups: [],
      claims: { sub: 'u' },
      idpRefreshTokenEnc: seal(deriveKey(SHARED_SECRET, 'idp-refresh-token'), 'rt', idHash),
      idpIdTokenEnc: null,
      idpExpiresAt: now + 30_000,
      createdAt: now,
      expiresAt: now + 3_600_000,
    });
    const codec = new CookieCodec(COOKIE_SECRET, false);
    const req = {
      headers: { cookie: `portcullis_session=${codec.sealSessionId(id)}` },
    } as IncomingMessage;
    assert.equal((await m.authenticate(req))?.sub, 'u', 'inside the margin, outage tolerated');
    now += 30_000;
    assert.equal(await m.authenticate(req), undefined, 'expired and still unrefreshable');
    assert.equal(await storage.sessions.get(idHash, now), undefined);
    await storage.close();
  });
});
