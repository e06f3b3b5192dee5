import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { describe, it } from 'node:test';
import { CookieCodec } from './cookie-codec.js';
import { cookieName, parseCookies, serializeCookie } from './cookies.js';

const req = (cookie: string) => ({ headers: { cookie } }) as IncomingMessage;

describe('cookies', () => {
  it('parses a Cookie header; the first duplicate wins', () => {
    const c = parseCookies(req('a=1; b="two"; a=3; junk; =x'));
    assert.equal(c.get('a'), '1');
    assert.equal(c.get('b'), 'two');
    assert.equal(c.size, 2);
  });

  it('serializes with HttpOnly, SameSite=Lax, Path=/ and Secure behind TLS', () => {
    assert.equal(
      serializeCookie('__Host-x', 'v', { secure: true, maxAge: 60 }),
      '__Host-x=v; Path=/; HttpOnly; SameSite=Lax; Secure; Max-Age=60',
    );
    assert.match(
      serializeCookie('x', '', { secure: false, maxAge: 0 }),
      /Max-Age=0; Expires=Thu, 01 Jan 1970/,
    );
    assert.equal(cookieName('s', true), '__Host-s');
    assert.equal(cookieName('s', false), 's');
  });
});

describe('CookieCodec', () => {
  const codec = new CookieCodec('cookie-secret-0123456789abcdef0123', true);

  it('names cookies with the __Host- prefix when secure', () => {
    assert.equal(codec.sessionCookie, '__Host-portcullis_session');
    assert.match(codec.loginStateCookie('abc'), /^__Host-portcullis_signin_[0-9a-f]{16}$/);
  });

  it('opens its own session cookie and nothing else', () => {
    const sealed = codec.sealSessionId('session-id-1');
    assert.equal(codec.readSessionId(req(`__Host-portcullis_session=${sealed}`)), 'session-id-1');
    assert.equal(codec.readSessionId(req(`portcullis_session=${sealed}`)), undefined);
    const other = new CookieCodec('another-secret-0123456789abcdef0123', true);
    assert.equal(other.readSessionId(req(`__Host-portcullis_session=${sealed}`)), undefined);
  });

  it('binds the login state to its cookie name, so it cannot pose as the session', () => {
    const login = { state: 's1', nonce: 'n', codeVerifier: 'v', returnTo: '/', expiresAt: 1 };
    const sealed = codec.sealLoginState(login);
    assert.deepEqual(
      codec.readLoginState(req(`${codec.loginStateCookie('s1')}=${sealed}`), 's1'),
      login,
    );
    assert.equal(
      codec.readLoginState(req(`${codec.loginStateCookie('s2')}=${sealed}`), 's2'),
      undefined,
    );
    assert.equal(codec.readSessionId(req(`__Host-portcullis_session=${sealed}`)), undefined);
  });
});
