/**
 * The upstream-token part of the gateway, as the rest of it uses it: the credentials step of
 * the route pipeline, the authorization of MCP clients (send the user to the provider before
 * the grant), the callback, and the connection state apps and the portal show. A route's
 * upstream is configured (`upstream_oauth2.endpoint`: `catalog.ts`) or found (`discovery.ts`).
 */
import type { InvalidationBus } from '../storage/invalidation.js';
import type { Logger } from 'pino';
import type { RouteConfig } from '../config/types.js';
import type {
  LeaseStore,
  OAuthStore,
  SessionRecord,
  UpstreamClientStore,
  UpstreamTokenStore,
} from '../storage/types.js';
import { UpstreamAuthorizer, type CallbackOutcome } from './authorization.js';
import { tokenKey, UpstreamCatalog, type RouteUpstream } from './catalog.js';
import { UpstreamDiscovery, type DiscoveryOptions } from './discovery.js';
import type { ClientOptions } from './oauth-client.js';
import { WantedScopes } from './wanted-scopes.js';
import { UpstreamVault, type TokenOutcome, type TokenStatus } from './vault.js';

export interface UpstreamServiceOptions {
  readonly routes: readonly RouteConfig[];
  readonly storage: {
    readonly oauth: OAuthStore;
    readonly upstreamTokens: UpstreamTokenStore;
    readonly upstreamClients: UpstreamClientStore;
    /** Where other replicas' disconnects are heard (the vault's cache drops them). */
    readonly invalidation?: InvalidationBus | undefined;
    /** Orders a refresh across replicas (one provider call per token). */
    readonly leases?: LeaseStore | undefined;
  };
  /** How long a replica holds the refresh lease before others may refresh (default 15 s). */
  readonly refreshLeaseMs?: number;
  readonly sharedSecret: string;
  readonly logger: Logger;
  /** Told of each refresh's outcome at the provider (metrics); never sees a token. */
  readonly onRefresh?: (outcome: 'ok' | 'refused' | 'failed') => void;
  readonly now?: () => number;
  readonly client?: ClientOptions;
  readonly discovery: Pick<DiscoveryOptions, 'allowedAsDomains' | 'fetch'>;
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
  readonly discovery: UpstreamDiscovery;
  readonly vault: UpstreamVault;
  readonly authorizer: UpstreamAuthorizer;
  private readonly scopes: WantedScopes;
  private readonly byResource = new Map<string, RouteConfig>();
  private readonly logger: Logger;

  constructor(options: UpstreamServiceOptions) {
    const { storage, sharedSecret, now, logger } = options;
    this.logger = logger;
    this.catalog = new UpstreamCatalog(options.routes, options.client);
    for (const route of options.routes) {
      if (route.mcp?.kind === 'server') this.byResource.set(route.mcp.resourceUrl, route);
    }
    this.discovery = new UpstreamDiscovery({
      ...options.discovery,
      clients: storage.upstreamClients,
      sharedSecret,
      logger,
      ...(now ? { now } : {}),
    });
    this.vault = new UpstreamVault({
      store: storage.upstreamTokens,
      invalidation: storage.invalidation,
      refreshLease: storage.leases && { leases: storage.leases, ttlMs: options.refreshLeaseMs },
      sharedSecret,
      ...(now ? { now } : {}),
      onRefresh: (key, outcome, err) => {
        options.onRefresh?.(outcome);
        const fields = { sub: key.sub, route: key.routeKey, upstream: key.upstream.upstreamKey };
        if (outcome === 'ok') logger.debug(fields, 'upstream token refreshed');
        else if (outcome === 'refused') logger.info(fields, 'upstream refused the refresh');
        else logger.warn({ ...fields, err }, 'upstream token refresh failed');
      },
    });
    this.scopes = new WantedScopes(storage.oauth, now ?? Date.now);
    this.authorizer = new UpstreamAuthorizer({
      oauth: storage.oauth,
      find: (routeKey, upstreamKey) => this.find(routeKey, upstreamKey),
      vault: this.vault,
      sharedSecret,
      ...(now ? { now } : {}),
    });
  }

  /** The route's upstream as known now, without I/O (the request path asks this). */
  entryFor(route: RouteConfig): RouteUpstream | undefined {
    return this.catalog.forRoute(route) ?? this.discovery.found(route);
  }

  /** Whether requests to `route` carry an upstream token (no I/O). */
  holdsTokens(route: RouteConfig): boolean {
    return this.entryFor(route) !== undefined;
  }

  /** Whether an upstream 401 may teach the gateway that `route` needs upstream OAuth. */
  mayDiscover(route: RouteConfig): boolean {
    return UpstreamDiscovery.candidate(route) && this.discovery.found(route) === undefined;
  }

  /** The upstream token for this user on this route, refreshed when due. */
  async credentials(route: RouteConfig, sub: string): Promise<Credentials> {
    const entry = this.entryFor(route);
    if (entry === undefined) return { kind: 'none' };
    return fromOutcome(await this.vault.token(tokenKey(entry, sub)));
  }

  /** After the upstream refused the token it was given (401): one refresh, unless done already. */
  async refreshAfterRejection(route: RouteConfig, sub: string, version: number) {
    const entry = this.entryFor(route);
    if (entry === undefined) return { kind: 'none' } as const;
    return fromOutcome(await this.vault.refresh(tokenKey(entry, sub), version));
  }

  /**
   * The upstream answered 401 with `resource_metadata` to a request that carried no upstream
   * token: find its authorization server. True when the route now has an upstream.
   */
  async learn(route: RouteConfig, wwwAuthenticate: string | undefined): Promise<boolean> {
    const named = /resource_metadata="([^"]+)"/.exec(wwwAuthenticate ?? '')?.[1];
    const entry = await this.discovery.resolve(route, named);
    if (entry) this.logger.info({ route: entry.routeKey }, 'upstream OAuth discovered');
    return entry !== undefined;
  }

  /**
   * The upstream answered 403 `insufficient_scope` to the user's token: it is forgotten, and
   * the next authorization asks the provider for the scopes the answer named as well.
   */
  async stepUp(route: RouteConfig, sub: string, wwwAuthenticate: string | undefined) {
    const entry = this.entryFor(route);
    if (entry === undefined) return;
    const named = /scope="([^"]*)"/.exec(wwwAuthenticate ?? '')?.[1] ?? '';
    const scopes = named.split(' ').filter((s) => /^[\x21\x23-\x5B\x5D-\x7E]+$/.test(s));
    await this.scopes.remember(entry, sub, scopes);
    await this.vault.forget(tokenKey(entry, sub));
    this.logger.info({ sub, route: entry.routeKey, scopes }, 'upstream asked for more scopes');
  }

  /** The token the upstream keeps refusing: forgotten, so the user authorizes again. */
  async forget(route: RouteConfig, sub: string): Promise<void> {
    const entry = this.entryFor(route);
    if (entry === undefined) return;
    await this.vault.forget(tokenKey(entry, sub));
    this.logger.info(
      { sub, route: entry.routeKey },
      'upstream token refused by the server: deleted',
    );
  }

  /**
   * Before an MCP client is granted `resource`: the provider's authorization URL when the user
   * holds no token for it yet, else undefined. A route whose upstream may be protected is asked
   * here (its metadata), so the user connects before the first call.
   */
  async connectFirst(
    session: SessionRecord,
    resource: string,
    back: { readonly returnTo: string; readonly errorParam: string },
  ): Promise<URL | undefined> {
    const route = this.byResource.get(resource);
    const entry = route && (await this.resolve(route));
    if (entry === undefined) return undefined;
    const status = await this.vault.status(tokenKey(entry, session.sub));
    if (status.connected) return undefined;
    const extra = await this.scopes.wanted(entry, session.sub);
    return this.authorizer.begin(entry, session, back, extra);
  }

  complete(callbackUrl: URL, session: SessionRecord | undefined): Promise<CallbackOutcome> {
    return this.authorizer.complete(callbackUrl, session);
  }

  /** The user's connection to `route`'s upstream (`/.pomerium/mcp/routes`). */
  async connection(route: RouteConfig, sub: string): Promise<ServerConnection> {
    const entry = await this.resolve(route);
    if (entry === undefined) {
      return { needsOauth: false, connected: true, expiresAt: null, refreshTokenAvailable: false };
    }
    return { needsOauth: true, ...(await this.vault.status(tokenKey(entry, sub))) };
  }

  /** The route's upstream, found first when it may be discovered. */
  async resolve(route: RouteConfig): Promise<RouteUpstream | undefined> {
    const known = this.entryFor(route);
    if (known || !UpstreamDiscovery.candidate(route)) return known;
    return this.discovery.resolve(route);
  }

  private find(routeKey: string, upstreamKey: string): RouteUpstream | undefined {
    const matches = (e: RouteUpstream) =>
      e.routeKey === routeKey && e.client.upstreamKey === upstreamKey;
    return this.catalog.all().find(matches) ?? this.discovery.all().find(matches);
  }

  /** Refreshes the user's token for `route` now, whatever its expiry (the user asked). */
  async refreshNow(route: RouteConfig, sub: string): Promise<ForcedRefresh> {
    const entry = await this.resolve(route);
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
    const entry = await this.resolve(route);
    if (entry === undefined) return false;
    const deleted = await this.vault.disconnect(tokenKey(entry, sub));
    if (deleted) this.logger.info({ sub, route: entry.routeKey }, 'upstream service disconnected');
    return deleted;
  }
}

function fromOutcome(outcome: TokenOutcome): Credentials {
  if (outcome.kind === 'token') {
    return { kind: 'token', accessToken: outcome.accessToken, version: outcome.record.version };
  }
  return outcome.kind === 'missing' ? { kind: 'missing' } : { kind: 'unavailable' };
}
