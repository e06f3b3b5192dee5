/**
 * The vault's opened access tokens, kept in memory for a few seconds per (user, route,
 * upstream) so a busy route does not read and decrypt the row on every call. A disconnect or a
 * new connection on any replica arrives on the invalidation bus and drops the user's tokens of
 * that route; while the bus is unhealthy nothing is kept or answered from here.
 */
import {
  cacheTrusted,
  type InvalidationBus,
  type InvalidationEvent,
} from '../storage/invalidation.js';

interface Held<T> {
  readonly value: T;
  readonly sub: string;
  readonly routeKey: string;
  readonly until: number;
}

export class OpenedCache<T> {
  private readonly entries = new Map<string, Held<T>>();

  constructor(
    private readonly now: () => number,
    private readonly lifeMs: number,
    private readonly maxEntries: number,
    private readonly invalidation?: InvalidationBus,
  ) {
    invalidation?.subscribe((event) => this.drop(event));
  }

  /** What is held under `key` while it lives and the cache may be trusted. */
  get(key: string): T | undefined {
    if (!cacheTrusted(this.invalidation)) return undefined;
    const held = this.entries.get(key);
    return held !== undefined && held.until > this.now() ? held.value : undefined;
  }

  set(key: string, sub: string, routeKey: string, value: T): void {
    if (!cacheTrusted(this.invalidation)) return;
    this.entries.delete(key);
    if (this.entries.size >= this.maxEntries) {
      this.entries.delete(this.entries.keys().next().value as string);
    }
    this.entries.set(key, { value, sub, routeKey, until: this.now() + this.lifeMs });
  }

  delete(key: string): void {
    this.entries.delete(key);
  }

  private drop(event: InvalidationEvent): void {
    if (event.k === 'all') return this.entries.clear();
    if (event.k !== 'upstream' && event.k !== 'user') return;
    for (const [key, held] of this.entries) {
      if (held.sub === event.sub && (event.k === 'user' || held.routeKey === event.route)) {
        this.entries.delete(key);
      }
    }
  }
}
