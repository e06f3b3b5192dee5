/**
 * Which web origins may use the app-facing endpoints with the user's session cookie: a page on
 * the host the request was sent to (the gateway's own pages, the portal) or on an `mcp.client`
 * route's host (the apps). Anything else is another site riding the cookie (CSRF), refused
 * for state-changing requests and denied CORS. Hosts are compared as `URL.host` (lower case,
 * no default port); origins as `URL.origin`, both taken from the config's `from` URLs, so TLS
 * ending in front of the gateway changes nothing.
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { RouteConfig } from '../config/types.js';

export class AppOrigins {
  /** `mcp.client` routes' origins. */
  private readonly clients: ReadonlySet<string>;
  /** `mcp.client` routes' hosts (for `redirect_url`). */
  readonly clientHosts: ReadonlySet<string>;
  /** Route host → the origins of the routes on it. */
  private readonly byHost: ReadonlyMap<string, ReadonlySet<string>>;

  constructor(
    routes: readonly RouteConfig[],
    private readonly scheme: 'http' | 'https',
  ) {
    const clients = routes.filter((r) => r.mcp?.kind === 'client').map((r) => new URL(r.from));
    this.clients = new Set(clients.map((u) => u.origin));
    this.clientHosts = new Set(clients.map((u) => u.host));
    const byHost = new Map<string, Set<string>>();
    for (const route of routes) {
      const from = new URL(route.from);
      const origins = byHost.get(from.host) ?? new Set<string>();
      origins.add(from.origin);
      byHost.set(from.host, origins);
    }
    this.byHost = byHost;
  }

  /** The Host header as `URL.host`, or undefined when it is no host. */
  hostOf(hostHeader: string | undefined): string | undefined {
    if (hostHeader === undefined || hostHeader === '') return undefined;
    try {
      return new URL(`${this.scheme}://${hostHeader}`).host;
    } catch {
      return undefined;
    }
  }

  /** Whether a page at `origin` may use the session of a request sent to `hostHeader`. */
  allowed(origin: string, hostHeader: string | undefined): boolean {
    if (this.clients.has(origin)) return true;
    const host = this.hostOf(hostHeader);
    return host !== undefined && (this.byHost.get(host)?.has(origin) ?? false);
  }

  /**
   * Whether a request came from an allowed page (RFC 6454 §7, Fetch §3.1). Browsers send
   * `Origin` on every POST; where they send `null` (a page under `Referrer-Policy:
   * no-referrer`, as the gateway's own) only `Sec-Fetch-Site: same-origin` vouches for it.
   */
  fromAllowedPage(headers: IncomingHttpHeaders): boolean {
    const origin = headers.origin;
    if (origin !== undefined && origin !== 'null') return this.allowed(origin, headers.host);
    return headers['sec-fetch-site'] === 'same-origin';
  }
}
