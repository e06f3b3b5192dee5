/**
 * Validates the external token (TE) an MCP client presents on an MCP route: opaque, looked up
 * in storage through oidc-provider, audience-bound to one MCP resource (RFC 8707), carrying a
 * user whose identity was saved at consent, under a gateway session that is still live.
 * Results are cached in this process for a few seconds (token hash → sub, audience, expiry;
 * grant → live session); a revocation, a grant revoked or a session ended in this process
 * drops the entries at once, other replicas see it within the cache's life.
 */
import { sha256Hex } from '../core/crypto.js';
import type { AccessTokenInstance } from '../oidc/provider-module.js';
import type { IdentityRecord, IdentityStore } from '../storage/types.js';

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
   * The `idHash` of the live gateway session the grant was made under, or undefined when it is
   * gone (the caller revokes the grant then). Absent: grants are not tied to sessions.
   */
  readonly grantSession?: (grantId: string) => Promise<string | undefined>;
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

  constructor(private readonly options: BearerValidatorOptions) {
    this.now = options.now ?? Date.now;
    this.cacheMs = options.cacheMs ?? 5_000;
    this.maxEntries = options.maxEntries ?? 10_000;
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
    let entry = this.tokens.get(key);
    if (entry === undefined || entry.cachedUntil <= now) {
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
      this.remember(key, entry);
    }
    const fits =
      typeof audience === 'string' ? entry.audiences.includes(audience) : audience(entry);
    if (entry.expiresAt <= now || !fits) return undefined;
    if (!(await this.sessionLive(entry.grantId, now))) {
      this.forgetGrant(entry.grantId);
      return undefined;
    }
    const identity = await this.identity(entry.sub, now);
    if (identity === undefined) return undefined;
    return { sub: entry.sub, clientId: entry.clientId, grantId: entry.grantId, identity };
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

  private async sessionLive(grantId: string, now: number): Promise<boolean> {
    const check = this.options.grantSession;
    if (check === undefined) return true;
    const cached = this.grantSessions.get(grantId);
    if (cached && cached.until > now) return true;
    const idHash = await check(grantId);
    if (idHash === undefined) {
      this.grantSessions.delete(grantId);
      return false;
    }
    if (this.grantSessions.size >= this.maxEntries) this.grantSessions.clear();
    this.grantSessions.set(grantId, { idHash, until: now + this.cacheMs });
    return true;
  }

  private async identity(sub: string, now: number): Promise<IdentityRecord | undefined> {
    const cached = this.identities.get(sub);
    if (cached && cached.until > now) return cached.identity;
    const identity = await this.options.identities.get(sub);
    if (identity === undefined) {
      this.identities.delete(sub);
      return undefined;
    }
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
