/**
 * The gateway's storage, behind narrow interfaces. Every backend (memory, SQLite,
 * PostgreSQL) implements all of them and passes the same contract tests
 * (`contract.test-suite.ts`). Methods are async so a networked backend fits; times are
 * milliseconds since the epoch. Secrets never reach storage in the clear: session ids are
 * stored as SHA-256 hashes, private keys and provider tokens encrypted by their owners.
 */

import type { InvalidationBus } from './invalidation.js';
import type { LeaseStore, UpstreamClientStore, UpstreamTokenStore } from './upstream-types.js';

export type * from './upstream-types.js';

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
  /**
   * The identity provider's newest ID token, encrypted by the session module (null: none), sent
   * as `id_token_hint` at sign-out (OIDC RP-Initiated Logout 1.0 §2).
   */
  readonly idpIdTokenEnc: string | null;
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

/**
 * Requests counted per key and fixed time window, shared by every process on the storage: the
 * `/register` and `/token` rate limits of replicas on PostgreSQL (`oauth/shared-rate-limit.ts`).
 */
export interface RateCounterStore {
  /**
   * Adds one to `key`'s count in the window that starts at `windowStart` and returns the new
   * count; atomic, so concurrent callers on any process each see a distinct count. The window
   * may be deleted once `expiresAt` has passed.
   */
  increment(key: string, windowStart: number, expiresAt: number): Promise<number>;
  /** Deletes the windows that expired before `before`; returns how many. */
  prune(before: number): Promise<number>;
}

/**
 * What `oidc-provider` keeps (its models: AccessToken, AuthorizationCode, RefreshToken, Grant,
 * Session, Interaction, Client, …), for the OAuth server for MCP clients. Rows are keyed by
 * SHA-256 of (model, id), so a reader of the database cannot present a token it finds there;
 * the caller (the oidc-provider adapter) also keeps token values out of `payload` and hashes
 * client secrets. Only `Session` and `Interaction` (looked up by uid) and `DeviceCode` (by user
 * code) rows also keep their plain id, because those lookups must return it.
 */
export interface OAuthRecord {
  readonly payload: Readonly<Record<string, unknown>>;
  /** When the record stops being found (null: never). */
  readonly expiresAt: number | null;
  /** When a single-use record (code, rotated refresh token) was consumed, else null. */
  readonly consumedAt: number | null;
}

export interface OAuthStore {
  /**
   * Inserts or replaces. `grantId`, `uid`, `userCode` and `accountId` are indexed when
   * `payload` has them (for `revokeByGrantId`, `findByUid`, `findByUserCode`,
   * `listByAccountId`).
   */
  upsert(
    model: string,
    id: string,
    payload: Record<string, unknown>,
    expiresAt: number | null,
  ): Promise<void>;
  /** The record, or undefined when missing or expired at `now`. */
  find(model: string, id: string, now: number): Promise<OAuthRecord | undefined>;
  findByUid(
    model: string,
    uid: string,
    now: number,
  ): Promise<{ id: string; record: OAuthRecord } | undefined>;
  findByUserCode(
    model: string,
    userCode: string,
    now: number,
  ): Promise<{ id: string; record: OAuthRecord } | undefined>;
  /**
   * The live records of `model` whose payload's `accountId` is `accountId` (the user they
   * belong to), in no particular order. Their ids are not returned: most are kept only hashed.
   */
  listByAccountId(model: string, accountId: string, now: number): Promise<OAuthRecord[]>;
  /**
   * Marks a record consumed at `at` (the first consumption stands). True when this call was
   * the first: of concurrent consumers exactly one is told so.
   */
  consume(model: string, id: string, at: number): Promise<boolean>;
  destroy(model: string, id: string): Promise<void>;
  /** Deletes every record of the grant, in every model. */
  revokeByGrantId(grantId: string): Promise<void>;
  /** Deletes records expired at `now`; returns how many. */
  sweep(now: number): Promise<number>;
}

/** A registered OAuth client of the MCP authorization server, with its bookkeeping. */
export interface OAuthClientRecord {
  readonly clientId: string;
  /** Client metadata as oidc-provider stores it (a secret only as a hash). */
  readonly metadata: Readonly<Record<string, unknown>>;
  /** SHA-256 of the registration's canonical metadata (name, redirect URIs, …), for dedupe. */
  readonly fingerprint: string;
  readonly createdAt: number;
  /** Last time a token was issued to it (null: never authorized). */
  readonly lastUsedAt: number | null;
}

export interface OAuthClientStore {
  get(clientId: string): Promise<OAuthClientRecord | undefined>;
  /** The client registered with this fingerprint, if any (identical re-registration). */
  findByFingerprint(fingerprint: string): Promise<OAuthClientRecord | undefined>;
  put(client: OAuthClientRecord): Promise<void>;
  delete(clientId: string): Promise<void>;
  markUsed(clientId: string, at: number): Promise<void>;
  /**
   * Deletes clients never used and created before `neverUsedBefore`, and clients last used
   * before `unusedBefore`; returns how many.
   */
  sweep(neverUsedBefore: number, unusedBefore: number): Promise<number>;
}

/** A person's remembered consent: this client, at this redirect URI, may use this server. */
export interface ConsentRecord {
  readonly sub: string;
  /** The MCP resource URL. */
  readonly resource: string;
  /** SHA-256 of the client_id and the redirect URI (`consentClientKey`); opaque to the store. */
  readonly clientKey: string;
  readonly clientName: string;
  /** The client_id and redirect URI the key was made of (null: a consent stored before them). */
  readonly clientId: string | null;
  readonly redirectUri: string | null;
  readonly scopes: readonly string[];
  readonly grantedAt: number;
}

export interface ConsentStore {
  get(sub: string, resource: string, clientKey: string): Promise<ConsentRecord | undefined>;
  put(consent: ConsentRecord): Promise<void>;
  listBySub(sub: string): Promise<ConsentRecord[]>;
  delete(sub: string, resource: string, clientKey: string): Promise<void>;
}

/** The last known identity of a user, for requests that carry a token instead of a cookie. */
export interface IdentityRecord {
  readonly sub: string;
  readonly email: string | null;
  readonly name: string | null;
  readonly groups: readonly string[];
  readonly claims: Readonly<Record<string, unknown>>;
  readonly updatedAt: number;
}

export interface IdentityStore {
  get(sub: string): Promise<IdentityRecord | undefined>;
  put(identity: IdentityRecord): Promise<void>;
}

export interface Storage {
  readonly kind: 'memory' | 'sqlite' | 'postgres';
  readonly sessions: SessionStore;
  readonly signingKeys: SigningKeyStore;
  readonly users: UserStore;
  readonly loginAttempts: LoginAttemptStore;
  readonly rateCounters: RateCounterStore;
  readonly oauth: OAuthStore;
  readonly oauthClients: OAuthClientStore;
  readonly consents: ConsentStore;
  readonly identities: IdentityStore;
  readonly upstreamTokens: UpstreamTokenStore;
  readonly upstreamClients: UpstreamClientStore;
  readonly leases: LeaseStore;
  /**
   * Where revoking writes are announced to every process's caches (`invalidation.ts`): set by
   * `openStorage` (PostgreSQL's reaches the other replicas); absent, caches answer alone.
   */
  readonly invalidation?: InvalidationBus;
  /** Throws when the backend cannot be reached (`/readyz`); PostgreSQL waits 2 s at most for it. */
  ping(): Promise<void>;
  close(): Promise<void>;
}
