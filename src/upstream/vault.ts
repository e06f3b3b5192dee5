/**
 * The token vault: the upstream tokens (TI) each user holds per MCP route and upstream,
 * sealed at rest, handed out fresh. A token is refreshed ahead of its expiry (less than
 * min(60 s, a third of its life) left); concurrent requests for one user, route and upstream
 * share one refresh, in this process (one promise) and across replicas (the storage lease,
 * `refresh-lease.ts`); the rotated refresh token is written by compare-and-set on the record's
 * version, so a refresh that lost a race anyway (a lease outlived) takes the winner's token
 * instead of deleting it. A refresh the provider refuses deletes the token: the user must
 * authorize again. A provider that fails (5xx, timeout) leaves the stored token alone.
 */
import type { InvalidationBus } from '../storage/invalidation.js';
import type { UpstreamTokenRecord, UpstreamTokenStore } from '../storage/types.js';
import { OpenedCache } from './opened-cache.js';
import { RefreshLeases, type RefreshLeaseOptions } from './refresh-lease.js';
import { TokenSealer } from './token-sealer.js';
import {
  providerRefused,
  type UpstreamOAuthClient,
  type UpstreamTokenSet,
} from './oauth-client.js';

/** One user's token for one route and upstream: the vault's key. */
export interface TokenKey {
  readonly sub: string;
  readonly routeKey: string;
  readonly upstream: UpstreamOAuthClient;
}

export type TokenOutcome =
  | { readonly kind: 'token'; readonly accessToken: string; readonly record: UpstreamTokenRecord }
  /** Nothing stored (or it was refused and deleted): the user must authorize at the provider. */
  | { readonly kind: 'missing'; readonly refused: boolean }
  /** The provider could not be reached or failed: try again later. */
  | { readonly kind: 'unavailable'; readonly error: unknown };

export interface TokenStatus {
  readonly connected: boolean;
  readonly expiresAt: number | null;
  readonly refreshTokenAvailable: boolean;
}

export interface VaultOptions {
  readonly store: UpstreamTokenStore;
  readonly sharedSecret: string;
  readonly now?: () => number;
  /** Told of each refresh's outcome (metrics, logs); never sees a token. */
  readonly onRefresh?: (key: TokenKey, outcome: 'ok' | 'refused' | 'failed', err?: unknown) => void;
  /** Where disconnects on other replicas are heard (`OpenedCache`). */
  readonly invalidation?: InvalidationBus | undefined;
  /** The storage lease that makes a refresh single-flight across replicas. */
  readonly refreshLease?: RefreshLeaseOptions | undefined;
}

/** The most a token is refreshed ahead of its expiry. */
const REFRESH_AHEAD_MS = 60_000;
/**
 * How long an opened token is used from memory before storage is read again: as the bearer
 * cache. Another replica's disconnect or new connection drops it at once (the invalidation
 * bus); its refresh is seen within this, or at the first 401 from the upstream.
 */
const OPENED_CACHE_MS = 5_000;
const OPENED_CACHE_MAX = 10_000;

type Opened = TokenOutcome & { kind: 'token' };

export class UpstreamVault {
  private readonly sealer: TokenSealer;
  private readonly now: () => number;
  private readonly inFlight = new Map<string, Promise<TokenOutcome>>();
  private readonly openedCache: OpenedCache<Opened>;
  private readonly leases: RefreshLeases | undefined;

  constructor(private readonly options: VaultOptions) {
    this.now = options.now ?? Date.now;
    this.sealer = new TokenSealer(options.sharedSecret, this.now);
    const { refreshLease } = options;
    this.leases = refreshLease && new RefreshLeases(refreshLease, this.now);
    this.openedCache = new OpenedCache(
      this.now,
      OPENED_CACHE_MS,
      OPENED_CACHE_MAX,
      options.invalidation,
    );
  }

  /** A token that is good for now, refreshed first when it is due. */
  async token(key: TokenKey): Promise<TokenOutcome> {
    const cached = this.openedCache.get(flightKey(key));
    if (cached !== undefined && !this.due(cached.record)) return cached;
    const record = await this.read(key);
    if (record === undefined) return { kind: 'missing', refused: false };
    if (!this.due(record)) return this.opened(key, record);
    return this.refresh(key, record.version);
  }

  /**
   * Refreshes now (the upstream answered 401, or the user asked), unless the stored token
   * changed since `seenVersion`: then someone else refreshed already and that token is used.
   */
  refresh(key: TokenKey, seenVersion?: number): Promise<TokenOutcome> {
    const flight = flightKey(key);
    let pending = this.inFlight.get(flight);
    if (pending === undefined) {
      pending = this.refreshOnce(key, seenVersion).finally(() => this.inFlight.delete(flight));
      this.inFlight.set(flight, pending);
    }
    return pending;
  }

  /** Stores what a code exchange gave (replacing what the user held). */
  async save(key: TokenKey, tokens: UpstreamTokenSet): Promise<UpstreamTokenRecord> {
    const previous = await this.read(key);
    const record = this.sealer.record(key, tokens, previous, null);
    this.openedCache.delete(flightKey(key));
    await this.options.store.put(record);
    return record;
  }

  /** Deletes the user's token, revoking it at the provider first when it can. */
  async disconnect(key: TokenKey): Promise<boolean> {
    this.openedCache.delete(flightKey(key));
    const record = await this.read(key);
    if (record === undefined) return false;
    if (key.upstream.canRevoke) {
      const { refreshTokenEnc, accessTokenEnc } = record;
      const [token, hint] = refreshTokenEnc
        ? [this.sealer.open(key, refreshTokenEnc, 'refresh'), 'refresh_token' as const]
        : [this.sealer.open(key, accessTokenEnc, 'access'), 'access_token' as const];
      // Best effort: the token is forgotten here whatever the provider says.
      await key.upstream.revoke(token, hint).catch(() => undefined);
    }
    return this.options.store.delete(key.sub, key.routeKey, key.upstream.upstreamKey);
  }

  /** Deletes the user's token without asking the provider (it refused the token already). */
  async forget(key: TokenKey): Promise<void> {
    this.openedCache.delete(flightKey(key));
    await this.options.store.delete(key.sub, key.routeKey, key.upstream.upstreamKey);
  }

  async status(key: TokenKey): Promise<TokenStatus> {
    const record = await this.read(key);
    if (record === undefined) {
      return { connected: false, expiresAt: null, refreshTokenAvailable: false };
    }
    const expired = record.expiresAt !== null && record.expiresAt <= this.now();
    const refreshTokenAvailable = record.refreshTokenEnc !== null;
    return {
      connected: !expired || refreshTokenAvailable,
      expiresAt: record.expiresAt,
      refreshTokenAvailable,
    };
  }

  private async refreshOnce(key: TokenKey, seenVersion?: number): Promise<TokenOutcome> {
    this.openedCache.delete(flightKey(key));
    const record = await this.read(key);
    if (record === undefined) return { kind: 'missing', refused: false };
    if (seenVersion !== undefined && record.version !== seenVersion && !this.due(record)) {
      return this.opened(key, record);
    }
    if (record.refreshTokenEnc === null) {
      if (!this.expired(record)) return this.opened(key, record);
      await this.options.store.delete(
        key.sub,
        key.routeKey,
        key.upstream.upstreamKey,
        record.version,
      );
      return { kind: 'missing', refused: true };
    }
    if (this.leases === undefined) return this.refreshRecord(key, record, record.refreshTokenEnc);
    const turn = await this.leases.take(flightKey(key), () => this.changedSince(key, record));
    if (turn.kind === 'settled') return turn.value;
    try {
      // The holder before may have stored its token between the last look and the lease.
      return (
        (await this.changedSince(key, record)) ??
        (await this.refreshRecord(key, record, record.refreshTokenEnc))
      );
    } finally {
      await turn.release();
    }
  }

  /** Refreshes with the record's refresh token and stores the result (compare and set). */
  private async refreshRecord(
    key: TokenKey,
    record: UpstreamTokenRecord,
    refreshTokenEnc: string,
  ): Promise<TokenOutcome> {
    let tokens: UpstreamTokenSet;
    try {
      tokens = await key.upstream.refresh(this.sealer.open(key, refreshTokenEnc, 'refresh'));
    } catch (err) {
      return this.refreshFailed(key, record, err);
    }
    const next = this.sealer.record(key, tokens, record, refreshTokenEnc);
    if (await this.options.store.replace(next, record.version)) {
      this.options.onRefresh?.(key, 'ok');
      return this.opened(key, next);
    }
    // Another replica refreshed meanwhile and stored its token: that one is current.
    return this.current(key);
  }

  /** What another replica's refresh left in place of `seen`: undefined while nothing yet. */
  private async changedSince(
    key: TokenKey,
    seen: UpstreamTokenRecord,
  ): Promise<TokenOutcome | undefined> {
    const now = await this.read(key);
    if (now === undefined) return { kind: 'missing', refused: true };
    // Sealed values differ on every write: a reconnection that restarted the version shows.
    const same = now.version === seen.version && now.accessTokenEnc === seen.accessTokenEnc;
    return same ? undefined : this.opened(key, now);
  }

  private async refreshFailed(
    key: TokenKey,
    record: UpstreamTokenRecord,
    err: unknown,
  ): Promise<TokenOutcome> {
    if (!providerRefused(err)) {
      this.options.onRefresh?.(key, 'failed', err);
      return { kind: 'unavailable', error: err };
    }
    // A rotating provider refuses all but the first of concurrent refreshes: when the record
    // changed since it was read, the winner stored a good token, and deleting it would lose it.
    const { store } = this.options;
    const deleted = await store.delete(
      key.sub,
      key.routeKey,
      key.upstream.upstreamKey,
      record.version,
    );
    if (!deleted) return this.current(key);
    this.openedCache.delete(flightKey(key));
    this.options.onRefresh?.(key, 'refused', err);
    return { kind: 'missing', refused: true };
  }

  private async current(key: TokenKey): Promise<TokenOutcome> {
    const record = await this.read(key);
    if (record === undefined) return { kind: 'missing', refused: true };
    return this.opened(key, record);
  }

  private read(key: TokenKey) {
    return this.options.store.get(key.sub, key.routeKey, key.upstream.upstreamKey);
  }

  /** The record's access token, kept opened in memory for a few seconds. */
  private opened(key: TokenKey, record: UpstreamTokenRecord): TokenOutcome {
    const accessToken = this.sealer.open(key, record.accessTokenEnc, 'access');
    const outcome = { kind: 'token', accessToken, record } as const;
    this.openedCache.set(flightKey(key), key.sub, key.routeKey, outcome);
    return outcome;
  }

  /** Due for a refresh: less than min(60 s, a third of its life) left. */
  private due(record: UpstreamTokenRecord): boolean {
    if (record.expiresAt === null) return false;
    const life = record.expiresAt - record.updatedAt;
    const ahead = Math.min(REFRESH_AHEAD_MS, Math.max(0, life) / 3);
    return record.expiresAt - this.now() < ahead;
  }

  private expired(record: UpstreamTokenRecord): boolean {
    return record.expiresAt !== null && record.expiresAt <= this.now();
  }
}

export function flightKey(key: TokenKey): string {
  // The whole key: a single-flight keyed by less would hand one user's token to another.
  return [key.sub, key.routeKey, key.upstream.upstreamKey].join('\0');
}
