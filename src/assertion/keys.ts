/**
 * ES256 key material for identity assertions: generation, the configured `signing_key`,
 * encryption at rest, and the public JWK that is published.
 */
import { createPrivateKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { calculateJwkThumbprint, type JWK } from 'jose';
import { ConfigError } from '../core/errors.js';
import { open, seal } from '../core/crypto.js';
import type { SigningKeyRecord } from '../storage/types.js';

/** A usable signing key: the private key imported once, and what is published for it. */
export interface SigningKeyPair {
  /** RFC 7638 JWK thumbprint (SHA-256) of the public key, as Pomerium sets `kid`. */
  readonly kid: string;
  readonly privateKey: KeyObject;
  /** The public JWK as published: `kty`, `crv`, `x`, `y`, plus `kid`, `alg`, `use`. */
  readonly publicJwk: JWK;
}

interface EcJwk {
  kty: 'EC';
  crv: 'P-256';
  x: string;
  y: string;
  d?: string;
}

/** The public members only, in the shape RFC 7638 §3.2 hashes for an EC key. */
function publicPart(jwk: EcJwk): EcJwk {
  return { kty: jwk.kty, crv: jwk.crv, x: jwk.x, y: jwk.y };
}

async function fromKeyObject(privateKey: KeyObject): Promise<SigningKeyPair> {
  const jwk = privateKey.export({ format: 'jwk' }) as Partial<EcJwk>;
  if (jwk.kty !== 'EC' || jwk.crv !== 'P-256' || !jwk.x || !jwk.y) {
    throw new TypeError('an ES256 signing key must be an EC P-256 private key');
  }
  const pub = publicPart(jwk as EcJwk);
  const kid = await calculateJwkThumbprint(pub, 'sha256');
  return { kid, privateKey, publicJwk: { ...pub, kid, alg: 'ES256', use: 'sig' } };
}

export function generateSigningKey(): Promise<SigningKeyPair> {
  return fromKeyObject(generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey);
}

/**
 * The configured `signing_key`: base64 of a PEM EC P-256 private key (SEC 1 or PKCS #8), as
 * Pomerium takes it (`openssl ecparam -genkey -name prime256v1 | base64 -w0`). PEM text
 * itself is accepted too.
 */
export async function importSigningKeyPem(value: string): Promise<SigningKeyPair> {
  const pem = value.includes('-----BEGIN') ? value : Buffer.from(value, 'base64').toString('utf8');
  let key: KeyObject;
  try {
    key = createPrivateKey({ key: pem, format: 'pem' });
  } catch {
    throw new ConfigError('signing_key', 'expected base64 of a PEM private key');
  }
  if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
    throw new ConfigError(
      'signing_key',
      `expected an EC P-256 key (ES256), got ${key.asymmetricKeyType ?? 'an unknown'} key${key.asymmetricKeyDetails?.namedCurve ? ` on ${key.asymmetricKeyDetails.namedCurve}` : ''}`,
    );
  }
  return fromKeyObject(key);
}

/** The AAD that binds an encrypted private key to its row: a blob moved to another kid fails. */
const aadFor = (kid: string) => `signing-key:${kid}`;

/** A storable record: the public JWK in the clear, the private JWK sealed with `key`. */
export function toRecord(pair: SigningKeyPair, key: Buffer, createdAt: number): SigningKeyRecord {
  const privateJwk = pair.privateKey.export({ format: 'jwk' });
  return {
    kid: pair.kid,
    alg: 'ES256',
    publicJwk: JSON.stringify(pair.publicJwk),
    privateJwkEnc: seal(key, JSON.stringify(privateJwk), aadFor(pair.kid)),
    createdAt,
    retiredAt: null,
  };
}

/**
 * Opens a stored key. Throws `CryptoError` when `key` does not open it (another
 * `shared_secret`), and `TypeError` when the private key does not match the recorded kid.
 */
export async function fromRecord(record: SigningKeyRecord, key: Buffer): Promise<SigningKeyPair> {
  const privateJwk = JSON.parse(open(key, record.privateJwkEnc, aadFor(record.kid))) as EcJwk;
  const pair = await fromKeyObject(createPrivateKey({ key: { ...privateJwk }, format: 'jwk' }));
  if (pair.kid !== record.kid) throw new TypeError(`stored signing key ${record.kid} is corrupt`);
  return pair;
}

/** The published JWK of a stored key, without decrypting anything. */
export function publicJwkOf(record: SigningKeyRecord): JWK {
  return JSON.parse(record.publicJwk) as JWK;
}
