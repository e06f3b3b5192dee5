/**
 * The gateway's storage, behind narrow interfaces. Every backend (memory, SQLite, later
 * PostgreSQL) implements all of them and passes the same contract tests
 * (`contract.test-suite.ts`). Methods are async so a networked backend fits; times are
 * milliseconds since the epoch. Secrets never reach storage in the clear: session ids are
 * stored as SHA-256 hashes, private keys and provider tokens encrypted by their owners.
 */

/** A signed-in browser session. */
export interface SessionRecord {
  /** SHA-256 (hex) of the random session id carried by the cookie. */
  readonly idHash: string;
  /** The user's subject at the identity provider. */
  readonly sub: string;
  readonly email: string | null;
  readonly name: string | null;
  readonly groups: readonly string[];
  /** Every ID-token claim, for `claim/<name>` policy and `jwt_claims_headers`. */
  readonly claims: Readonly<Record<string, unknown>>;
  /** The identity provider's refresh token, encrypted by the session module (null: none). */
  readonly idpRefreshTokenEnc: string | null;
  /** When the identity provider's tokens stop being valid and must be refreshed. */
  readonly idpExpiresAt: number;
  readonly createdAt: number;
  /** After this the session is gone whatever the provider says. */
  readonly expiresAt: number;
}

export interface SessionStore {
  put(session: SessionRecord): Promise<void>;
  /** The session, or undefined when missing or expired at `now`. */
  get(idHash: string, now: number): Promise<SessionRecord | undefined>;
  delete(idHash: string): Promise<void>;
  /** Deletes sessions expired at `now`; returns how many. */
  sweep(now: number): Promise<number>;
}

/** A key that signs identity assertions (`X-Pomerium-Jwt-Assertion`). */
export interface SigningKeyRecord {
  /** RFC 7638 JWK thumbprint. */
  readonly kid: string;
  readonly alg: 'ES256';
  /** The public JWK, as JSON text. */
  readonly publicJwk: string;
  /** The private JWK, encrypted with a key derived from `shared_secret`. */
  readonly privateJwkEnc: string;
  readonly createdAt: number;
  /** When the key stopped signing (null: current). It stays published until tokens expire. */
  readonly retiredAt: number | null;
}

export interface SigningKeyStore {
  /** Every stored key, newest first. */
  list(): Promise<SigningKeyRecord[]>;
  /** Adds a key; a second add of the same kid is a no-op (replicas racing at start). */
  add(key: SigningKeyRecord): Promise<void>;
  retire(kid: string, at: number): Promise<void>;
  /** Removes keys retired before `before`. */
  prune(before: number): Promise<number>;
}

/** A user of the built-in identity provider kept in storage (config users are not stored). */
export interface UserRecord {
  /** Lower-cased. */
  readonly email: string;
  readonly name: string | null;
  readonly groups: readonly string[];
  /** `scrypt$N$r$p$salt$hash` (base64url parts). */
  readonly passwordHash: string;
  readonly createdAt: number;
}

export interface UserStore {
  get(email: string): Promise<UserRecord | undefined>;
  /** Inserts or replaces by email. */
  put(user: UserRecord): Promise<void>;
  list(): Promise<UserRecord[]>;
}

/** Failed sign-in attempts, for rate limits and lockout of the built-in provider. */
export interface LoginAttemptStore {
  /** Records a failure for `key` (e.g. `email:alice@example.com` or `ip:127.0.0.1`). */
  recordFailure(key: string, at: number): Promise<void>;
  /** Failures for `key` at or after `since`. */
  countFailures(key: string, since: number): Promise<number>;
  /** Forgets `key`'s failures (after a successful sign-in). */
  reset(key: string): Promise<void>;
  /** Deletes failures older than `before`. */
  prune(before: number): Promise<number>;
}

export interface Storage {
  readonly kind: 'memory' | 'sqlite' | 'postgres';
  readonly sessions: SessionStore;
  readonly signingKeys: SigningKeyStore;
  readonly users: UserStore;
  readonly loginAttempts: LoginAttemptStore;
  /** Throws when the backend cannot be reached (`/healthz`). */
  ping(): Promise<void>;
  close(): Promise<void>;
}
