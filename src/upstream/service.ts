/**
 * The upstream-token part of the gateway, as the rest of it uses it: the credentials step of
 * the route pipeline, the authorization of MCP clients (send the user to the provider before
 * the grant), the callback, and the connection state apps and the portal show.
 */
import type { Logger } from 'pino';
import type { RouteConfig } from '../config/types.js';
import type { OAuthStore, SessionRecord, UpstreamTokenStore } from '../storage/types.js';
import { UpstreamAuthorizer, type CallbackOutcome } from './authorization.js';
import { tokenKey, UpstreamCatalog, type RouteUpstream } from './catalog.js';
import type { ClientOptions } from './oauth-client.js';
import { UpstreamVault, type TokenOutcome, type TokenStatus } from './vault.js';

export interface UpstreamServiceOptions {
  readonly routes: readonly RouteConfig[];
  readonly storage: { readonly oauth: OAuthStore; readonly upstreamTokens: UpstreamTokenStore };
  readonly sharedSecret: string;
  readonly logger: Logger;
  readonly now?: () => number;
  readonly client?: ClientOptions;
}

/** What the credentials step gets for one request. */
export type Credentials =
  /** The route holds no upstream token. */
  | { readonly kind: 'none' }
  | { readonly kind: 'token'; readonly accessToken: string; readonly version: number }
  /** The user holds no (more) token: the client must authorize again. */
  | { readonly kind: 'missing' }
  | { readonly kind: 'unavailable' };

export interface ServerConnection extends TokenStatus {
  readonly needsOauth: boolean;
}

/** What a refresh the user asked for came to (`/.pomerium/mcp/routes/refresh`). */
export type ForcedRefresh =
  | { readonly kind: 'none' | 'refreshed' | 'missing' | 'no-refresh-token' | 'unavailable' }
  /** The provider refused it: the token is deleted, the user must connect again. */
  | { readonly kind: 'refused' };

export class UpstreamService {
  readonly catalog: UpstreamCatalog;
  readonly vault: UpstreamVault;
  readonly authorizer: UpstreamAuthorizer;
  private readonly logger: Logger;

  constructor(options: UpstreamServiceOptions) {
    const { storage, sharedSecret, now, logger } = options;
    this.logger = logger;
    this.catalog = new UpstreamCatalog(options.routes, options.client);
    this.vault = new UpstreamVault({
      store: storage.upstreamTokens,
      sharedSecret,
      ...(now ? { now } : {}),
      onRefresh: (key, outcome, err) => {
        const fields = { sub: key.sub, route: key.routeKey, upstream: key.upstream.upstreamKey };
        if (outcome === 'ok') logger.debug(fields, 'upstream token refreshed');
        else if (outcome === 'refused') logger.info(fields, 'upstream refused the refresh');
        else logger.warn({ ...fields, err }, 'upstream token refresh failed');
      },
    });
    this.authorizer = new UpstreamAuthorizer({
      oauth: storage.oauth,
      catalog: this.catalog,
      vault: this.vault,
      sharedSecret,
      ...(now ? { now } : {}),
    });
  }

  /** The upstream token for this user on this route, refreshed when due. */
  async credentials(route: RouteConfig, sub: string): Promise<Credentials> {
    const entry = this.catalog.forRoute(route);
    if (entry === undefined) return { kind: 'none' };
    return fromOutcome(await this.vault.token(tokenKey(entry, sub)));
  }

  /** After the upstream refused the token it was given (401): one refresh, unless done already. */
  async refreshAfterRejection(route: RouteConfig, sub: string, version: number) {
    const entry = this.catalog.forRoute(route);
    if (entry === undefined) return { kind: 'none' } as const;
    return fromOutcome(await this.vault.refresh(tokenKey(entry, sub), version));
  }

  /** The token the upstream keeps refusing: forgotten, so the user authorizes again. */
  async forget(route: RouteConfig, sub: string): Promise<void> {
    const entry = this.catalog.forRoute(route);
    if (entry === undefined) return;
    await this.vault.forget(tokenKey(entry, sub));
    this.logger.info(
      { sub, route: entry.routeKey },
      'upstream token refused by the server: deleted',
    );
  }

  /**
   * Before an MCP client is granted `resource`: the provider's authorization URL when the user
   * holds no token for it yet, else undefined.
   */
  async connectFirst(
    session: SessionRecord,
    resource: string,
    back: { readonly returnTo: string; readonly errorParam: string },
  ): Promise<URL | undefined> {
    const entry = this.catalog.forResource(resource);
    if (entry === undefined) return undefined;
    const status = await this.vault.status(tokenKey(entry, session.sub));
    if (status.connected) return undefined;
    return this.authorizer.begin(entry, session, back);
  }

  complete(callbackUrl: URL, session: SessionRecord | undefined): Promise<CallbackOutcome> {
    return this.authorizer.complete(callbackUrl, session);
  }

  /** The user's connection to `route`'s upstream (`/.pomerium/mcp/routes`). */
  async connection(route: RouteConfig, sub: string): Promise<ServerConnection> {
    const entry = this.catalog.forRoute(route);
    if (entry === undefined) {
      return { needsOauth: false, connected: true, expiresAt: null, refreshTokenAvailable: false };
    }
    return { needsOauth: true, ...(await this.vault.status(tokenKey(entry, sub))) };
  }

  /** Refreshes the user's token for `route` now, whatever its expiry (the user asked). */
  async refreshNow(route: RouteConfig, sub: string): Promise<ForcedRefresh> {
    const entry = this.catalog.forRoute(route);
    if (entry === undefined) return { kind: 'none' };
    const key = tokenKey(entry, sub);
    const status = await this.vault.status(key);
    if (!status.connected) return { kind: 'missing' };
    if (!status.refreshTokenAvailable) return { kind: 'no-refresh-token' };
    const outcome = await this.vault.refresh(key);
    if (outcome.kind === 'token') return { kind: 'refreshed' };
    if (outcome.kind === 'unavailable') return { kind: 'unavailable' };
    return { kind: outcome.refused ? 'refused' : 'missing' };
  }

  /** Deletes the user's token for `route`, revoking it at the provider when it can. */
  async disconnect(route: RouteConfig, sub: string): Promise<boolean> {
    const entry = this.catalog.forRoute(route);
    if (entry === undefined) return false;
    const deleted = await this.vault.disconnect(tokenKey(entry, sub));
    if (deleted) this.logger.info({ sub, route: entry.routeKey }, 'upstream service disconnected');
    return deleted;
  }

  entryFor(route: RouteConfig): RouteUpstream | undefined {
    return this.catalog.forRoute(route);
  }
}

function fromOutcome(outcome: TokenOutcome): Credentials {
  if (outcome.kind === 'token') {
    return { kind: 'token', accessToken: outcome.accessToken, version: outcome.record.version };
  }
  return outcome.kind === 'missing' ? { kind: 'missing' } : { kind: 'unavailable' };
}
