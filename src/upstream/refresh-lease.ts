/**
 * One refresh per token across the replicas that share a storage: before asking the provider,
 * a vault takes the storage lease named for the token key; a vault that cannot get it waits
 * for the holder's new token to appear in storage instead of refreshing too (with rotating
 * refresh tokens the second refresh would be refused). A holder that dies mid-refresh blocks
 * the others only until its lease runs out: the first to try after that takes the lease itself.
 */
import { randomId, sha256Hex } from '../core/crypto.js';
import type { LeaseStore } from '../storage/upstream-types.js';

export interface RefreshLeaseOptions {
  readonly leases: LeaseStore;
  /**
   * How long a holder may take before another replica refreshes instead (default 15 s). A
   * refresh that outlives it is still safe: the write is compare-and-set on the version.
   */
  readonly ttlMs?: number;
  /** How often a waiting replica reads storage for the holder's token (default 75 ms). */
  readonly pollMs?: number;
}

/** Whose turn it is: this vault's (refresh, then release), or the holder's outcome. */
export type LeaseTurn<T> =
  | { readonly kind: 'held'; release(): Promise<void> }
  | { readonly kind: 'settled'; readonly value: T };

const DEFAULT_TTL_MS = 15_000;
const DEFAULT_POLL_MS = 75;

export class RefreshLeases {
  /** Unique per vault (one per process): a lease taken here is never mistaken for another's. */
  readonly holder = `vault-${randomId(9)}`;

  constructor(
    private readonly options: RefreshLeaseOptions,
    private readonly now: () => number,
  ) {}

  /**
   * Takes the lease for `flight`; while another holds it, asks `settled` every poll whether
   * the holder's outcome is in storage, and returns it when it is.
   */
  async take<T>(flight: string, settled: () => Promise<T | undefined>): Promise<LeaseTurn<T>> {
    const { leases, ttlMs = DEFAULT_TTL_MS, pollMs = DEFAULT_POLL_MS } = this.options;
    // Hashed: the key holds NUL separators (PostgreSQL text refuses them) and may be long.
    const name = leaseName(flight);
    for (;;) {
      if (await leases.acquire(name, this.holder, ttlMs, this.now())) {
        return { kind: 'held', release: () => leases.release(name, this.holder) };
      }
      const value = await settled();
      if (value !== undefined) return { kind: 'settled', value };
      await new Promise((resolve) => setTimeout(resolve, pollMs));
    }
  }
}

/** The lease a token key's refresh is ordered by (tests take it to play a dead replica). */
export function leaseName(flight: string): string {
  return `upstream-refresh:${sha256Hex(flight)}`;
}
