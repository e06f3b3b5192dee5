/**
 * Small cryptographic helpers on node:crypto: random ids, hashing, key derivation from
 * `shared_secret`, authenticated encryption of data at rest, and password hashing.
 * No I/O beyond the CPU; no dependency beyond Node.
 */
import {
  createCipheriv,
  createDecipheriv,
  hash,
  hkdfSync,
  randomBytes,
  scrypt,
  timingSafeEqual,
  type ScryptOptions,
} from 'node:crypto';

/** A sealed value or a key that does not open it, with a stable code. */
export class CryptoError extends Error {
  constructor(
    readonly code: 'ERR_SEALED_INVALID',
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = 'CryptoError';
  }
}

/** `bytes` random bytes as base64url (default 32 bytes: 256 bits, 43 characters). */
export function randomId(bytes = 32): string {
  return randomBytes(bytes).toString('base64url');
}

/** One shot (`crypto.hash`): no Hash object per call, a third of the cost for a token. */
export function sha256Hex(value: string): string {
  return hash('sha256', value, 'hex');
}

const BASE64 = /^(?:[A-Za-z0-9+/]+={0,2}|[A-Za-z0-9_-]+)$/;

/**
 * A 32-byte key for one `purpose`, derived from `shared_secret` with HKDF-SHA256 (RFC 5869,
 * empty salt, info = purpose). The secret is read as base64 when it is base64 of at least
 * 32 bytes (as Pomerium generates it), else as its UTF-8 bytes. Distinct purposes give
 * independent keys, so a key leaked from one use opens nothing else.
 */
export function deriveKey(secret: string, purpose: string): Buffer {
  if (secret === '') throw new TypeError('deriveKey: the secret is empty');
  const decoded = BASE64.test(secret) ? Buffer.from(secret, 'base64') : undefined;
  const ikm = decoded !== undefined && decoded.length >= 32 ? decoded : Buffer.from(secret, 'utf8');
  return Buffer.from(hkdfSync('sha256', ikm, Buffer.alloc(0), purpose, 32));
}

const VERSION = 'v1';
const IV_BYTES = 12; // NIST SP 800-38D §8.2: 96-bit IVs, random
const TAG_BYTES = 16;
const B64URL = /^[A-Za-z0-9_-]*$/;

function checkKey(key: Buffer): void {
  if (key.length !== 32) throw new RangeError('seal/open: the key must be 32 bytes (AES-256)');
}

/**
 * Encrypts `plaintext` with AES-256-GCM under a fresh random IV. `aad` binds the result to a
 * context (a row id, a user): it is not stored, and the same `aad` is needed to open.
 * Output: `v1.<iv>.<ciphertext>.<tag>`, each part base64url.
 */
export function seal(key: Buffer, plaintext: string, aad?: string): string {
  checkKey(key);
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_BYTES });
  if (aad !== undefined) cipher.setAAD(Buffer.from(aad, 'utf8'));
  const ciphertext = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  const tag = cipher.getAuthTag();
  return [VERSION, iv, ciphertext, tag]
    .map((p) => (typeof p === 'string' ? p : p.toString('base64url')))
    .join('.');
}

/** Decrypts a `seal` result; throws `CryptoError` (`ERR_SEALED_INVALID`) on any mismatch. */
export function open(key: Buffer, sealed: string, aad?: string): string {
  checkKey(key);
  const parts = sealed.split('.');
  const [version, iv, ciphertext, tag] = parts;
  if (
    parts.length !== 4 ||
    version !== VERSION ||
    iv === undefined ||
    ciphertext === undefined ||
    tag === undefined ||
    !parts.every((p) => B64URL.test(p))
  ) {
    throw invalid();
  }
  const ivBytes = Buffer.from(iv, 'base64url');
  const tagBytes = Buffer.from(tag, 'base64url');
  if (ivBytes.length !== IV_BYTES || tagBytes.length !== TAG_BYTES) throw invalid();
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, ivBytes, { authTagLength: TAG_BYTES });
    if (aad !== undefined) decipher.setAAD(Buffer.from(aad, 'utf8'));
    decipher.setAuthTag(tagBytes);
    const plain = Buffer.concat([
      decipher.update(Buffer.from(ciphertext, 'base64url')),
      decipher.final(),
    ]);
    return plain.toString('utf8');
  } catch (err) {
    throw invalid(err);
  }
}

function invalid(cause?: unknown): CryptoError {
  return new CryptoError(
    'ERR_SEALED_INVALID',
    'The sealed value is malformed, was tampered with, or belongs to another key or context.',
    cause === undefined ? undefined : { cause },
  );
}

/** Compares two strings in time independent of where they differ (and of their lengths). */
export function timingSafeEqualString(a: string, b: string): boolean {
  // Hashing first gives equal-length inputs, so the length of a secret does not leak either.
  const ha = hash('sha256', a, 'buffer');
  const hb = hash('sha256', b, 'buffer');
  return timingSafeEqual(ha, hb);
}

const SCRYPT = { N: 2 ** 15, r: 8, p: 1 } as const;
const SALT_BYTES = 16;
const HASH_BYTES = 32;
// Upper bounds on stored parameters: a corrupt row must not make one sign-in take minutes.
const MAX = { N: 2 ** 20, r: 32, p: 16, hash: 64 } as const;

function scryptAsync(password: string, salt: Buffer, length: number, o: ScryptOptions) {
  // scrypt needs 128·N·r bytes; Node's default cap (32 MiB) is exactly that at N=2^15, r=8.
  const maxmem = 128 * (o.N ?? 0) * (o.r ?? 0) * 2;
  return new Promise<Buffer>((resolve, reject) => {
    scrypt(password.normalize('NFC'), salt, length, { ...o, maxmem }, (err, key) =>
      err ? reject(err) : resolve(key),
    );
  });
}

/** `scrypt$N$r$p$salt$hash` (RFC 7914; salt and hash base64url). */
export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(SALT_BYTES);
  const hash = await scryptAsync(password, salt, HASH_BYTES, SCRYPT);
  const { N, r, p } = SCRYPT;
  return ['scrypt', N, r, p, salt.toString('base64url'), hash.toString('base64url')].join('$');
}

/** True when `password` matches `stored`; false when it does not or `stored` is malformed. */
export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const parsed = parseStored(stored);
  if (parsed === undefined) return false;
  const { N, r, p, salt, hash } = parsed;
  let actual: Buffer;
  try {
    actual = await scryptAsync(password, salt, hash.length, { N, r, p });
  } catch {
    return false;
  }
  return timingSafeEqual(actual, hash);
}

function parseStored(stored: string) {
  const parts = stored.split('$');
  if (parts.length !== 6 || parts[0] !== 'scrypt') return undefined;
  const [N, r, p] = parts.slice(1, 4).map((s) => (/^[1-9][0-9]{0,7}$/.test(s) ? Number(s) : NaN));
  const [salt, hash] = parts
    .slice(4)
    .map((s) => (B64URL.test(s) ? Buffer.from(s, 'base64url') : undefined));
  if (N === undefined || r === undefined || p === undefined || !salt || !hash) return undefined;
  const powerOfTwo = N > 1 && (N & (N - 1)) === 0;
  if (!powerOfTwo || N > MAX.N || !(r >= 1 && r <= MAX.r) || !(p >= 1 && p <= MAX.p)) {
    return undefined;
  }
  if (salt.length < 8 || hash.length < 16 || hash.length > MAX.hash) return undefined;
  return { N, r, p, salt, hash };
}
