/**
 * The stores of the upstream-token vault (`src/upstream/`) and the leases replicas share; part
 * of `Storage` (`types.ts`), kept apart because they are one idea of their own.
 */

/**
 * An upstream OAuth token (the internal token, TI) one user holds for one MCP route and one
 * upstream. The key is all three: editing a route's provider (another `token_url` or
 * `client_id`) never hands the old token to the new one. Token values are sealed by the vault
 * (`upstream/`) with a key derived from `shared_secret`, bound to the key fields; the store
 * never sees them in the clear.
 */
export interface UpstreamTokenRecord {
  readonly sub: string;
  /** The route's `id` where it has one, else its MCP resource URL. */
  readonly routeKey: string;
  /** The upstream's identity: its issuer (or `token_url`) and `client_id` (`upstreamKey`). */
  readonly upstreamKey: string;
  readonly accessTokenEnc: string;
  readonly refreshTokenEnc: string | null;
  readonly scopes: readonly string[];
  /** When the access token stops working (null: the provider gave no lifetime). */
  readonly expiresAt: number | null;
  readonly createdAt: number;
  readonly updatedAt: number;
  /** Increases by one with every write; `replace` compares it (a refresh race loses nothing). */
  readonly version: number;
}

export interface UpstreamTokenStore {
  get(sub: string, routeKey: string, upstreamKey: string): Promise<UpstreamTokenRecord | undefined>;
  /** Inserts or replaces whatever is stored under the record's key. */
  put(token: UpstreamTokenRecord): Promise<void>;
  /**
   * Replaces the stored record only while its version is still `expectedVersion` (compare and
   * set, atomic); returns whether it did. The new record carries its own (higher) version.
   */
  replace(token: UpstreamTokenRecord, expectedVersion: number): Promise<boolean>;
  /** Deletes the record; with `expectedVersion`, only while it is still that version. */
  delete(
    sub: string,
    routeKey: string,
    upstreamKey: string,
    expectedVersion?: number,
  ): Promise<boolean>;
  /** Every token the user holds, any route and upstream, by route key then upstream key. */
  listBySub(sub: string): Promise<UpstreamTokenRecord[]>;
}

/**
 * The gateway's own registration at a discovered upstream authorization server (dynamic
 * registration, or its client metadata document), made once per issuer and redirect URI.
 */
export interface UpstreamClientRecord {
  /** The upstream authorization server's `issuer`. */
  readonly issuer: string;
  /** The gateway's callback registered there (one per route host). */
  readonly redirectUri: string;
  readonly clientId: string;
  /** Sealed by the vault (null: a public client or a metadata-document client). */
  readonly clientSecretEnc: string | null;
  /** `client_secret_basic`, `client_secret_post` or `none`. */
  readonly tokenEndpointAuthMethod: string;
  readonly createdAt: number;
}

export interface UpstreamClientStore {
  get(issuer: string, redirectUri: string): Promise<UpstreamClientRecord | undefined>;
  /**
   * Stores `client` unless one is already stored for its issuer and redirect URI; returns the
   * one stored (the first writer wins when replicas race).
   */
  putIfAbsent(client: UpstreamClientRecord): Promise<UpstreamClientRecord>;
  delete(issuer: string, redirectUri: string): Promise<void>;
}

/**
 * Named, expiring locks shared by every process on the storage: one holder at a time, and a
 * holder that dies stops blocking the others once its lease runs out.
 */
export interface LeaseStore {
  /**
   * Takes `name` for `holder` until `now + ttlMs` when it is free, expired at `now`, or already
   * `holder`'s (which extends it); returns whether `holder` now has it. Atomic.
   */
  acquire(name: string, holder: string, ttlMs: number, now: number): Promise<boolean>;
  /** Gives `name` up when `holder` has it (a lease taken over by another is left alone). */
  release(name: string, holder: string): Promise<void>;
}
