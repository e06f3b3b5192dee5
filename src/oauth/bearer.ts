/**
 * Validates the external token (TE) an MCP client presents on an MCP route: opaque, looked up
 * in storage through oidc-provider, audience-bound to one MCP resource (RFC 8707), carrying a
 * user whose identity was saved at consent, under a gateway session that is still live.
 * Results are cached in this process for a few seconds (token hash → sub, audience, expiry;
 * grant → live session; sub → identity). Revocations, ended sessions and deleted clients arrive
 * on the storage's invalidation bus from every replica and drop the entries they touch; while
 * the bus is unhealthy (events may be missed) nothing is answered from the cache, and a read
 * that an event overtook is not cached (it may predate the change).
 */
import { sha256Hex } from '../core/crypto.js';
import type { AccessTokenInstance } from '../oidc/provider-module.js';
import {
  cacheTrusted,
  type InvalidationBus,
  type InvalidationEvent,
} from '../storage/invalidation.js';
import type { IdentityRecord, IdentityStore } from '../storage/types.js';
import type { GrantSessionCheck } from './grant-session.js';

export interface BearerUser {
  readonly sub: string;
  readonly clientId: string;
  readonly grantId: string;
  readonly identity: IdentityRecord;
}

interface Entry {
  readonly sub: string;
  readonly clientId: string;
  readonly grantId: string;
  readonly audiences: readonly string[];
  /** Milliseconds. */
  readonly expiresAt: number;
  readonly cachedUntil: number;
}

export interface BearerValidatorOptions {
  readonly identities: IdentityStore;
  readonly now?: () => number;
  /** How long a lookup is trusted without asking storage again. Default 5 s. */
  readonly cacheMs?: number;
  readonly maxEntries?: number;
  /**
   * The live gateway session the grant was made under, or undefined when it is gone (the
   * caller revokes the grant then). Absent: grants are not tied to sessions.
   */
  readonly grantSession?: GrantSessionCheck;
  /** Where revocations from every process are heard; absent, only the `forget*` calls drop. */
  readonly invalidation?: InvalidationBus | undefined;
}

/**
 * What a token must be for: an MCP resource among its audiences (RFC 8707), or a test of the
 * client it was issued to and its audiences (the app-facing endpoints take client-mode tokens
 * whatever their audience).
 */
export type AudienceCheck =
  | string
  | ((token: { readonly clientId: string; readonly audiences: readonly string[] }) => boolean);

/** Opaque tokens are 43 characters (256 bits, base64url); anything far off is not ours. */
const TOKEN_SHAPE = /^[A-Za-z0-9_-]{20,200}$/;

export class BearerValidator {
  private readonly tokens = new Map<string, Entry>();
  private readonly byGrant = new Map<string, Set<string>>();
  private readonly identities = new Map<string, { identity: IdentityRecord; until: number }>();
  private readonly grantSessions = new Map<string, { idHash: string; until: number }>();
  private readonly now: () => number;
  private readonly cacheMs: number;
  private readonly maxEntries: number;
  /** Counts invalidation events: a lookup that saw it change may be stale and is not kept. */
  private epoch = 0;

  constructor(private readonly options: BearerValidatorOptions) {
    this.now = options.now ?? Date.now;
    this.cacheMs = options.cacheMs ?? 5_000;
    this.maxEntries = options.maxEntries ?? 10_000;
    options.invalidation?.subscribe((event) => this.invalidate(event));
  }

  /**
   * The user behind `token` when it is live and was issued for `audience`; undefined when it
   * is unknown, expired, revoked, for another resource, its grant's gateway session is gone,
   * or its user is unknown.
   */
  async validate(
    token: string,
    audience: AudienceCheck,
    find: (token: string) => Promise<AccessTokenInstance | undefined>,
  ): Promise<BearerUser | undefined> {
    if (!TOKEN_SHAPE.test(token)) return undefined;
    const now = this.now();
    const key = sha256Hex(token);
    const trusted = cacheTrusted(this.options.invalidation);
    let entry = trusted ? this.tokens.get(key) : undefined;
    if (entry === undefined || entry.cachedUntil <= now) {
      const epoch = this.epoch;
      const found = await find(token);
      if (found === undefined) {
        this.forget(key);
        return undefined;
      }
      entry = {
        sub: found.accountId,
        clientId: found.clientId,
        grantId: found.grantId,
        audiences:
          found.aud === undefined
            ? []
            : typeof found.aud === 'string'
              ? [found.aud]
              : [...found.aud],
        expiresAt: found.exp * 1000,
        cachedUntil: now + this.cacheMs,
      };
      if (trusted && epoch === this.epoch) this.remember(key, entry);
    }
    if (entry.expiresAt <= now || !fits(entry, audience)) return undefined;
    if (!(await this.sessionLive(entry.grantId, now))) {
      this.forgetGrant(entry.grantId);
      return undefined;
    }
    const identity = await this.identity(entry.sub, now);
    if (identity === undefined) return undefined;
    return { sub: entry.sub, clientId: entry.clientId, grantId: entry.grantId, identity };
  }

  /**
   * The user behind `token` when everything `validate` reads is cached, trusted and fresh,
   * answered without a promise: this is nearly every request that carries a token. Undefined
   * is no refusal, only "not known here": `validate` decides then.
   */
  peek(token: string, audience: AudienceCheck): BearerUser | undefined {
    if (!TOKEN_SHAPE.test(token) || !cacheTrusted(this.options.invalidation)) return undefined;
    const now = this.now();
    const entry = this.tokens.get(sha256Hex(token));
    if (entry === undefined || entry.cachedUntil <= now || entry.expiresAt <= now) return undefined;
    if (!fits(entry, audience)) return undefined;
    if (this.options.grantSession !== undefined) {
      const live = this.grantSessions.get(entry.grantId);
      if (live === undefined || live.until <= now) return undefined;
    }
    const known = this.identities.get(entry.sub);
    if (known === undefined || known.until <= now) return undefined;
    const { sub, clientId, grantId } = entry;
    return { sub, clientId, grantId, identity: known.identity };
  }

  /** A token row was destroyed (revocation): forget it now. */
  forgetToken(token: string): void {
    this.forget(sha256Hex(token));
  }

  /** A grant was revoked (refresh-token replay, code replay, revocation): forget its tokens. */
  forgetGrant(grantId: string): void {
    for (const key of this.byGrant.get(grantId) ?? []) this.tokens.delete(key);
    this.byGrant.delete(grantId);
    this.grantSessions.delete(grantId);
  }

  /** A gateway session ended in this process (sign-out): forget that its grants were live. */
  forgetSession(idHash: string): void {
    for (const [grantId, cached] of this.grantSessions) {
      if (cached.idHash === idHash) this.grantSessions.delete(grantId);
    }
  }

  /** Another process (or this one) changed something: drop every entry that depends on it. */
  private invalidate(event: InvalidationEvent): void {
    this.epoch++;
    switch (event.k) {
      case 'grant':
        return this.forgetGrant(event.id);
      case 'token':
        return this.forget(event.hash);
      case 'session':
        return this.forgetSession(event.idHash);
      case 'user':
        this.identities.delete(event.sub);
        return this.forgetGrantsOf((entry) => entry.sub === event.sub);
      case 'client':
        return this.forgetGrantsOf((entry) => entry.clientId === event.id);
      case 'all':
        for (const map of [this.tokens, this.byGrant, this.identities, this.grantSessions]) {
          map.clear();
        }
        return;
      case 'upstream':
        return;
    }
  }

  private forgetGrantsOf(match: (entry: Entry) => boolean): void {
    const grants = new Set([...this.tokens.values()].filter(match).map((e) => e.grantId));
    for (const grantId of grants) this.forgetGrant(grantId);
  }

  private async sessionLive(grantId: string, now: number): Promise<boolean> {
    const check = this.options.grantSession;
    if (check === undefined) return true;
    const trusted = cacheTrusted(this.options.invalidation);
    const cached = this.grantSessions.get(grantId);
    if (trusted && cached && cached.until > now) return true;
    const epoch = this.epoch;
    const live = await check(grantId);
    if (live === undefined) {
      this.grantSessions.delete(grantId);
      return false;
    }
    if (!trusted || epoch !== this.epoch) return true;
    if (this.grantSessions.size >= this.maxEntries) this.grantSessions.clear();
    // A session that ends by itself (its expiry) is not believed live past that.
    const until = Math.min(now + this.cacheMs, live.expiresAt);
    this.grantSessions.set(grantId, { idHash: live.idHash, until });
    return true;
  }

  private async identity(sub: string, now: number): Promise<IdentityRecord | undefined> {
    const trusted = cacheTrusted(this.options.invalidation);
    const cached = this.identities.get(sub);
    if (trusted && cached && cached.until > now) return cached.identity;
    const epoch = this.epoch;
    const identity = await this.options.identities.get(sub);
    if (identity === undefined) {
      this.identities.delete(sub);
      return undefined;
    }
    if (!trusted || epoch !== this.epoch) return identity;
    if (this.identities.size >= this.maxEntries) this.identities.clear();
    this.identities.set(sub, { identity, until: now + this.cacheMs });
    return identity;
  }

  private remember(key: string, entry: Entry): void {
    if (this.tokens.size >= this.maxEntries) {
      this.tokens.clear();
      this.byGrant.clear();
    }
    this.tokens.set(key, entry);
    const keys = this.byGrant.get(entry.grantId) ?? new Set<string>();
    keys.add(key);
    this.byGrant.set(entry.grantId, keys);
  }

  private forget(key: string): void {
    const entry = this.tokens.get(key);
    if (entry === undefined) return;
    this.tokens.delete(key);
    this.byGrant.get(entry.grantId)?.delete(key);
  }
}

function fits(entry: Entry, audience: AudienceCheck): boolean {
  return typeof audience === 'string' ? entry.audiences.includes(audience) : audience(entry);
}
