import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SignInRequestSigner, type SignInRequest } from './handoff-request.js';

const SECRET = 'c2hhcmVkLXNlY3JldC1mb3ItZ2F0ZXdheS10ZXN0cyE=';
const T0 = 1_700_000_000_000;
const REQUEST: SignInRequest = {
  target: 'https://sqlite.example.test:8443',
  returnTo: '/.pomerium/mcp/interaction/abc?x=1&y=%2F',
  binding: 'qkqEkPWbUb2uaUyGJA0aIfKuaqM53TB0DuZTwB1jHfg',
  expiresAt: T0 + 300_000,
};

describe('SignInRequestSigner', () => {
  const signer = new SignInRequestSigner(SECRET);

  it('round-trips a request, URL-safe as it is', () => {
    const token = signer.sign(REQUEST);
    assert.match(token, /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/);
    assert.deepEqual(signer.verify(token, T0), { ok: true, request: REQUEST });
  });

  it('refuses it once expired', () => {
    const token = signer.sign(REQUEST);
    assert.deepEqual(signer.verify(token, REQUEST.expiresAt), { ok: false, reason: 'expired' });
  });

  it('refuses a changed payload, a changed signature and another secret', () => {
    const token = signer.sign(REQUEST);
    const [payload = '', mac = ''] = token.split('.');
    const evil = { t: 'https://evil.example.test', r: '/', b: REQUEST.binding, e: T0 + 1e6 };
    const forged = Buffer.from(JSON.stringify(evil)).toString('base64url');
    const flip = (s: string) => (s[0] === 'A' ? 'B' : 'A') + s.slice(1);
    for (const bad of [`${forged}.${mac}`, `${payload}.${flip(mac)}`, `${flip(payload)}.${mac}`]) {
      assert.deepEqual(signer.verify(bad, T0), { ok: false, reason: 'signature' }, bad);
    }
    const other = new SignInRequestSigner('another shared secret of enough length!!');
    assert.deepEqual(other.verify(token, T0), { ok: false, reason: 'signature' });
  });

  it('refuses malformed tokens', () => {
    const token = signer.sign(REQUEST);
    for (const bad of ['', 'abc', `${token}.x`, `.${token.split('.')[1]}`, 'x'.repeat(5000)]) {
      assert.equal(signer.verify(bad, T0).ok, false, bad.slice(0, 40));
    }
  });

  it('refuses a signed payload of the wrong shape', () => {
    // Made with the real key so only the shape check can refuse it.
    const wrong = new SignInRequestSigner(SECRET).sign({ ...REQUEST, expiresAt: NaN });
    assert.deepEqual(signer.verify(wrong, T0), { ok: false, reason: 'malformed' });
  });
});
