/**
 * The client-mode token each gateway session gets on `mcp.client` routes: one per session,
 * reused while more than min(60 s, a third of its life) is left (a minute of a 5-minute
 * token), then replaced; never minted per request. Its audiences are the MCP servers the user
 * may reach now: when those change (another group, another policy), the old token's grant is
 * revoked and a new one minted.
 *
 * Kept in this process only (the token's value is never stored; storage keeps its hash): each
 * replica mints its own for a session, which is as good as one. Concurrent requests of one
 * session share one mint.
 */
import type { ClientModeToken } from '../oauth/server.js';
import type { InvalidationBus } from '../storage/invalidation.js';
import type { SessionRecord } from '../storage/types.js';
import { accessibleServers, type McpServerRoute } from './accessible.js';

export interface ClientTokenDeps {
  readonly servers: readonly McpServerRoute[];
  mint(session: SessionRecord, audiences: readonly string[]): Promise<ClientModeToken>;
  revokeGrant(grantId: string): Promise<void>;
  readonly now?: () => number;
  /** Sessions remembered at most (the oldest is dropped). Default 10 000. */
  readonly maxEntries?: number;
  /** Where sessions ended on any replica are heard: their tokens are dropped here too. */
  readonly invalidation?: InvalidationBus | undefined;
}

interface Held extends ClientModeToken {
  readonly mintedAt: number;
  /** The audiences, joined: what the token was minted for. */
  readonly audienceKey: string;
}

/** The most a token is replaced ahead of its expiry. */
const RENEW_AHEAD_MS = 60_000;

export class ClientTokens {
  private readonly held = new Map<string, Held>();
  private readonly minting = new Map<string, Promise<Held>>();
  private readonly now: () => number;
  private readonly maxEntries: number;

  constructor(private readonly deps: ClientTokenDeps) {
    this.now = deps.now ?? Date.now;
    this.maxEntries = deps.maxEntries ?? 10_000;
    deps.invalidation?.subscribe((event) => {
      if (event.k === 'session') this.forget(event.idHash);
      if (event.k === 'all') this.held.clear();
    });
  }

  /** The token for `session`'s next request to an app. */
  async tokenFor(session: SessionRecord): Promise<string> {
    const audiences = accessibleServers(this.deps.servers, session).map((s) => s.mcp.resourceUrl);
    const audienceKey = audiences.join('\n');
    const held = this.held.get(session.idHash);
    if (held && held.audienceKey === audienceKey && !this.due(held)) return held.token;
    let pending = this.minting.get(session.idHash);
    if (pending === undefined) {
      pending = this.replace(session, held, audiences, audienceKey).finally(() =>
        this.minting.delete(session.idHash),
      );
      this.minting.set(session.idHash, pending);
    }
    return (await pending).token;
  }

  /** The session ended (sign-out): its token is dropped here (its grant dies with it). */
  forget(idHash: string): void {
    this.held.delete(idHash);
  }

  private async replace(
    session: SessionRecord,
    old: Held | undefined,
    audiences: readonly string[],
    audienceKey: string,
  ): Promise<Held> {
    const mintedAt = this.now();
    const minted = await this.deps.mint(session, audiences);
    const next: Held = { ...minted, mintedAt, audienceKey };
    this.held.delete(session.idHash);
    if (this.held.size >= this.maxEntries) {
      const oldest = this.held.keys().next().value;
      if (oldest !== undefined) this.held.delete(oldest);
    }
    this.held.set(session.idHash, next);
    // A token for servers the user may no longer reach must not outlive the change.
    if (old && old.audienceKey !== audienceKey) await this.deps.revokeGrant(old.grantId);
    return next;
  }

  private due(held: Held): boolean {
    const life = held.expiresAt - held.mintedAt;
    const ahead = Math.min(RENEW_AHEAD_MS, Math.max(0, life) / 3);
    return held.expiresAt - this.now() < ahead;
  }
}
