import { createECDH } from 'node:crypto';
import { deriveKey } from '../core/crypto.js';

export interface SigningJwk {
  readonly kty: 'EC';
  readonly crv: 'P-256';
  readonly d: string;
  readonly x: string;
  readonly y: string;
  readonly alg: 'ES256';
  readonly use: 'sig';
}

/**
 * The built-in provider's ID-token signing key, derived from `shared_secret` (HKDF, purpose
 * `idp-signing-key`), so it is the same after a restart and on every replica without being
 * stored. Rotating `shared_secret` rotates it (and ends every session anyway).
 * A P-256 private scalar must be in [1, n-1]; a derived value outside (odds ~2^-32) moves on
 * to the next counter.
 */
export function deriveSigningJwk(sharedSecret: string): SigningJwk {
  for (let counter = 0; counter < 16; counter++) {
    const d = deriveKey(sharedSecret, `idp-signing-key/${counter}`);
    const ecdh = createECDH('prime256v1');
    try {
      ecdh.setPrivateKey(d);
    } catch {
      continue;
    }
    const point = ecdh.getPublicKey(); // 0x04 || x || y (SEC 1 §2.3.3)
    return {
      kty: 'EC',
      crv: 'P-256',
      d: d.toString('base64url'),
      x: point.subarray(1, 33).toString('base64url'),
      y: point.subarray(33, 65).toString('base64url'),
      alg: 'ES256',
      use: 'sig',
    };
  }
  throw new Error('deriveSigningJwk: no valid P-256 key could be derived');
}
