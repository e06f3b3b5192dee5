/**
 * What the vault's tests share: real SQLite storage in memory, a frozen clock, and a scripted
 * provider that rotates refresh tokens as real ones do.
 */
import * as client from 'openid-client';
import type { InvalidationBus } from '../storage/invalidation.js';
import { publishingStorage } from '../storage/publishing.js';
import { openSqliteStorage } from '../storage/sqlite.js';
import type { UpstreamOAuthClient, UpstreamTokenSet } from './oauth-client.js';
import type { RefreshLeaseOptions } from './refresh-lease.js';
import { UpstreamVault, type TokenKey } from './vault.js';

export const SECRET = 'dmF1bHQtdGVzdC1zZWNyZXQtdmF1bHQtdGVzdC1zZWNyZXQh';

/** A provider that rotates refresh tokens: each is accepted once, then `invalid_grant`. */
export class RotatingProvider implements UpstreamOAuthClient {
  readonly upstreamKey = 'https://provider.example/token client-1';
  readonly canRevoke = false;
  refreshes = 0;
  refused = 0;
  outage = false;
  private live = new Set(['refresh-0']);
  private n = 0;
  /** Resolved before each refresh answers (lets a test hold refreshes in flight). */
  gate: Promise<void> = Promise.resolve();

  authorizationUrl(): URL {
    throw new Error('not used');
  }
  async exchangeCode(): Promise<UpstreamTokenSet> {
    throw new Error('not used');
  }
  async refresh(refreshToken: string): Promise<UpstreamTokenSet> {
    await this.gate;
    if (this.outage) throw new TypeError('fetch failed');
    if (!this.live.delete(refreshToken)) {
      this.refused++;
      throw new client.ResponseBodyError('invalid_grant', {
        cause: { error: 'invalid_grant' },
        response: new Response(null, { status: 400 }),
      });
    }
    this.refreshes++;
    this.n++;
    this.live.add(`refresh-${this.n}`);
    return {
      accessToken: `access-${this.n}`,
      refreshToken: `refresh-${this.n}`,
      expiresIn: 5,
      scopes: ['read'],
    };
  }
  async revoke(): Promise<void> {}
}

export function setup() {
  const storage = openSqliteStorage(':memory:');
  let now = 1_800_000_000_000;
  const clock = { now: () => now, advance: (ms: number) => (now += ms) };
  const provider = new RotatingProvider();
  const vault = (refreshLease?: RefreshLeaseOptions) =>
    new UpstreamVault({
      store: storage.upstreamTokens,
      sharedSecret: SECRET,
      now: clock.now,
      refreshLease,
    });
  const key: TokenKey = { sub: 'user-1', routeKey: 'https://gw.example/notes', upstream: provider };
  const first: UpstreamTokenSet = {
    accessToken: 'access-0',
    refreshToken: 'refresh-0',
    expiresIn: 5,
    scopes: ['read'],
  };
  /** A replica's vault on the storage that announces its writes on `bus` (shared by all). */
  const replica = (bus: InvalidationBus, withLease = false) => {
    const shared = publishingStorage(storage, bus);
    return new UpstreamVault({
      store: shared.upstreamTokens,
      sharedSecret: SECRET,
      now: clock.now,
      invalidation: bus,
      refreshLease: withLease ? { leases: shared.leases } : undefined,
    });
  };
  return { storage, clock, provider, vault, replica, key, first };
}
