/**
 * Upstreams found rather than configured: a remote MCP server protected by its own OAuth (as
 * hosted Notion, Linear or GitHub servers are). Its protected resource metadata (RFC 9728: from
 * its 401's `resource_metadata`, else the well-known URLs) names its authorization server (or
 * `mcp.server.authorization_server_url` does), whose RFC 8414 metadata gives the endpoints; the
 * gateway then uses the route's pre-registered `upstream_oauth2.client_id`, or registers itself
 * once per issuer and callback (its client metadata document where the server supports them,
 * else dynamic registration), kept in storage so a restart registers nothing new. `resource`
 * (RFC 8707) is always sent. What was found is kept for the life of the process; a server
 * found unprotected is asked again after a minute, a failure after 30 s.
 */
import * as client from 'openid-client';
import type { Logger } from 'pino';
import type { RouteConfig } from '../config/types.js';
import type { UpstreamClientStore } from '../storage/types.js';
import { CALLBACK_PATH, type RouteUpstream } from './catalog.js';
import {
  authorizationServerAllowed,
  DiscoveryError,
  guardedFetch,
  type DiscoveryFetchOptions,
  type GuardedFetch,
} from './discovery-fetch.js';
import { clientAuth, oauthClient, tune } from './oauth-client.js';
import { registeredClient, type RegisteredClient } from './registration.js';
import { upstreamResourceUrl } from './resource-url.js';

export const CLIENT_METADATA_PATH = '/.pomerium/mcp/client/metadata.json';

export interface DiscoveryOptions {
  /** `mcp_allowed_as_metadata_domains`: empty allows any public host. */
  readonly allowedAsDomains: readonly string[];
  readonly fetch: DiscoveryFetchOptions;
  readonly clients: UpstreamClientStore;
  readonly sharedSecret: string;
  readonly logger: Logger;
  readonly now?: () => number;
}

const UNPROTECTED_RECHECK_MS = 60_000;
const FAILURE_RECHECK_MS = 30_000;

interface Known {
  entry: Promise<RouteUpstream | undefined>;
  /** Until when the answer stands (Infinity once found). */
  until: number;
  settled?: RouteUpstream;
  /** The metadata URL a 401 named that this answer was made with (or tried). */
  named?: string;
  failed?: boolean;
}

export class UpstreamDiscovery {
  private readonly known = new Map<RouteConfig, Known>();
  private readonly http: GuardedFetch;
  private readonly now: () => number;

  constructor(private readonly options: DiscoveryOptions) {
    this.http = guardedFetch(options.fetch);
    this.now = options.now ?? Date.now;
  }

  /** Routes whose upstream may be found: MCP servers without a configured `endpoint`. */
  static candidate(route: RouteConfig): boolean {
    return route.mcp?.kind === 'server' && !route.mcp.upstreamOauth2?.endpoint;
  }

  /** The upstream already found for `route` (no I/O: the request path asks this). */
  found(route: RouteConfig): RouteUpstream | undefined {
    return this.known.get(route)?.settled;
  }

  /** Every upstream found so far. */
  all(): RouteUpstream[] {
    return [...this.known.values()].flatMap((k) => (k.settled ? [k.settled] : []));
  }

  /**
   * The route's upstream, found now if it was not yet; undefined when the upstream is not
   * protected (or discovery failed: logged, and tried again later). `resourceMetadata` is the
   * URL an upstream's 401 named.
   */
  resolve(route: RouteConfig, resourceMetadata?: string): Promise<RouteUpstream | undefined> {
    const cached = this.known.get(route);
    // A recent answer stands: an upstream answering 401 to every request must not make the
    // gateway fetch its metadata on every request. Only a metadata URL not tried yet may
    // overturn a recent "not protected" (the well-known URLs had nothing; the 401 names one).
    const fresh = cached !== undefined && cached.until > this.now();
    const newlyNamed =
      resourceMetadata !== undefined && !cached?.failed && cached?.named !== resourceMetadata;
    if (fresh && (cached.settled !== undefined || !newlyNamed)) return cached.entry;
    const known: Known = { entry: Promise.resolve(undefined), until: Infinity };
    if (resourceMetadata !== undefined) known.named = resourceMetadata;
    known.entry = this.discover(route, resourceMetadata).then(
      (entry) => {
        if (entry) known.settled = entry;
        else known.until = this.now() + UNPROTECTED_RECHECK_MS;
        return entry;
      },
      (err: unknown) => {
        known.until = this.now() + FAILURE_RECHECK_MS;
        known.failed = true;
        this.options.logger.warn(
          { route: route.name ?? route.from, err },
          `upstream discovery failed: ${(err as Error).message}`,
        );
        return undefined;
      },
    );
    this.known.set(route, known);
    return known.entry;
  }

  private async discover(
    route: RouteConfig,
    resourceMetadata: string | undefined,
  ): Promise<RouteUpstream | undefined> {
    if (route.mcp?.kind !== 'server') return undefined;
    const { mcp } = route;
    const declared = mcp.upstreamOauth2 !== null || mcp.authorizationServerUrl !== null;
    const upstream = upstreamResourceUrl(route);
    const prm = await this.resourceMetadata(upstream, resourceMetadata);
    if (prm === undefined && !declared) return undefined;
    const issuerText = mcp.authorizationServerUrl ?? firstString(prm?.authorization_servers);
    if (issuerText === undefined) {
      throw new DiscoveryError(`${upstream.href} names no authorization server`);
    }
    const issuer = new URL(issuerText);
    if (!authorizationServerAllowed(issuer, this.options.allowedAsDomains)) {
      throw new DiscoveryError(`${issuer.host} is not in mcp_allowed_as_metadata_domains`);
    }
    const metadata = await this.serverMetadata(issuer);
    const redirectUri = new URL(CALLBACK_PATH, route.from).href;
    const registered = await registeredClient({
      route,
      metadata,
      redirectUri,
      metadataDocument: new URL(CLIENT_METADATA_PATH, route.from).href,
      http: this.http,
      clients: this.options.clients,
      sharedSecret: this.options.sharedSecret,
      now: this.now,
    });
    return this.entry(route, { metadata, registered, redirectUri, prm, upstream });
  }

  private entry(
    route: RouteConfig,
    found: {
      readonly metadata: client.ServerMetadata;
      readonly registered: RegisteredClient;
      readonly redirectUri: string;
      readonly prm: Record<string, unknown> | undefined;
      readonly upstream: URL;
    },
  ): RouteUpstream {
    if (route.mcp?.kind !== 'server') throw new TypeError('not an MCP server route');
    const { metadata, registered, prm } = found;
    const configuration = new client.Configuration(
      metadata,
      registered.clientId,
      { token_endpoint_auth_method: registered.authMethod },
      clientAuth(
        registered.secret,
        registered.authMethod === 'client_secret_post' ? 'params' : null,
      ),
    );
    const urls = [metadata.token_endpoint, metadata.revocation_endpoint].filter(
      (u): u is string => typeof u === 'string',
    );
    for (const url of urls) this.http.checkUrl(new URL(url), 'endpoint');
    tune(configuration, urls, { fetch: this.http.fetch });
    const upstream = route.mcp.upstreamOauth2;
    const scopes = upstream?.scopes.length ? upstream.scopes : stringList(prm?.scopes_supported);
    const resource = typeof prm?.resource === 'string' ? prm.resource : found.upstream.href;
    return {
      route,
      routeKey: route.id ?? route.mcp.resourceUrl,
      resource: route.mcp.resourceUrl,
      client: oauthClient(configuration, `${metadata.issuer} ${registered.clientId}`, {
        scopes,
        params: upstream?.authorizationUrlParams ?? {},
        dropIss: false,
        resource,
      }),
      redirectUri: found.redirectUri,
    };
  }

  /**
   * RFC 9728: the document at the URL the upstream's 401 named, else the path-aware then the
   * root well-known URL. Its `resource` must be the URL it describes (§3.3).
   */
  private async resourceMetadata(upstream: URL, named: string | undefined) {
    const path = upstream.pathname === '/' ? '' : upstream.pathname.replace(/\/$/, '');
    const candidates = named
      ? [new URL(named)]
      : [
          new URL(`/.well-known/oauth-protected-resource${path}`, upstream.origin),
          ...(path ? [new URL('/.well-known/oauth-protected-resource', upstream.origin)] : []),
        ];
    for (const url of candidates) {
      const doc = await this.http.json(url);
      // `resource` is required (RFC 9728 §2): a JSON answer without one is no such document.
      if (doc === undefined || typeof doc.resource !== 'string') continue;
      const resource = doc.resource.replace(/\/$/, '');
      const allowed = [upstream.href.replace(/\/$/, ''), upstream.origin];
      if (!allowed.includes(resource)) {
        throw new DiscoveryError(`${url.href} describes ${doc.resource}, not ${upstream.href}`);
      }
      return doc;
    }
    return undefined;
  }

  /** RFC 8414 §3 (then OpenID discovery), with the issuer checked (§3.3). */
  private async serverMetadata(issuer: URL): Promise<client.ServerMetadata> {
    const path = issuer.pathname === '/' ? '' : issuer.pathname.replace(/\/$/, '');
    const candidates = [
      new URL(`/.well-known/oauth-authorization-server${path}`, issuer.origin),
      new URL(`${issuer.origin}${path}/.well-known/openid-configuration`),
    ];
    for (const url of candidates) {
      const doc = await this.http.json(url);
      if (doc === undefined) continue;
      if (String(doc.issuer).replace(/\/$/, '') !== issuer.href.replace(/\/$/, '')) {
        throw new DiscoveryError(`${url.href} names issuer ${String(doc.issuer)}`);
      }
      for (const key of ['authorization_endpoint', 'token_endpoint'] as const) {
        if (typeof doc[key] !== 'string') throw new DiscoveryError(`${url.href} has no ${key}`);
        this.http.checkUrl(new URL(doc[key]), key);
      }
      // MCP 2025-11-25: without S256 advertised, a client must not go on.
      if (!stringList(doc.code_challenge_methods_supported).includes('S256')) {
        throw new DiscoveryError(`${issuer.href} does not support PKCE S256`);
      }
      return doc as client.ServerMetadata;
    }
    throw new DiscoveryError(`${issuer.href} publishes no authorization server metadata`);
  }
}

function firstString(value: unknown): string | undefined {
  return Array.isArray(value) && typeof value[0] === 'string' ? value[0] : undefined;
}

function stringList(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [];
}
