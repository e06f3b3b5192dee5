import assert from 'node:assert/strict';
import { createPrivateKey, createPublicKey, sign, verify } from 'node:crypto';
import { describe, it } from 'node:test';
import { deriveSigningJwk } from './keys.js';

describe('deriveSigningJwk', () => {
  it('derives the same valid P-256 key from the same secret, another from another', () => {
    const a = deriveSigningJwk('shared-secret-0123456789abcdef0123');
    assert.deepEqual(deriveSigningJwk('shared-secret-0123456789abcdef0123'), a);
    assert.notEqual(deriveSigningJwk('shared-secret-other-0123456789abcd').d, a.d);
    const priv = createPrivateKey({ key: { ...a }, format: 'jwk' });
    const pub = { kty: a.kty, crv: a.crv, x: a.x, y: a.y };
    const signature = sign('sha256', Buffer.from('x'), priv);
    assert.ok(
      verify('sha256', Buffer.from('x'), createPublicKey({ key: pub, format: 'jwk' }), signature),
    );
  });
});
