import type { RouteConfig } from '../config/types.js';

export type Scheme = 'http' | 'https';

/** What routing looks at: the Host header value (may carry a port) and the request path. */
export interface RouteRequest {
  readonly host: string;
  /** The request target's path; a query string, if present, is ignored for matching. */
  readonly path: string;
}

/** What matching reads of a route (a whole `RouteConfig`, or a host named like one). */
export type Matchable = Pick<RouteConfig, 'from' | 'match'>;

export interface RouteMatch<R extends Matchable = RouteConfig> {
  readonly route: R;
  /**
   * The part of the path the route claims, which upstream rewriting replaces: the `prefix`, the
   * whole `path`, or `/` for `regex` and catch-all routes.
   */
  readonly prefix: string;
}

export interface RouteMatcher<R extends Matchable = RouteConfig> {
  match(request: RouteRequest, listenerScheme: Scheme): RouteMatch<R> | undefined;
}

interface CompiledRoute<R extends Matchable> {
  readonly route: R;
  readonly port: number;
  /** `from` has its scheme's default port (written or implied), so a port-less Host may match. */
  readonly defaultPort: boolean;
  readonly matchPath: (path: string) => string | undefined;
}

const DEFAULT_PORT: Record<Scheme, number> = { http: 80, https: 443 };

/**
 * Compiles routes once, at start-up. Matching is by host and port of `from`, then by path;
 * the first route in configuration order wins.
 *
 * A Host header without a port means the listener's default port (RFC 9110 §7.2, §4.2). Like
 * Pomerium, a `from` on its scheme's default port also answers a port-less Host arriving on the
 * other scheme (TLS terminated in front of the gateway), but a route whose `from` port equals
 * the effective request port is preferred over such a fallback.
 */
export function compileRoutes<R extends Matchable = RouteConfig>(
  routes: readonly R[],
): RouteMatcher<R> {
  const byHost = new Map<string, CompiledRoute<R>[]>();
  for (const route of routes) {
    const from = new URL(route.from);
    const scheme = from.protocol === 'https:' ? 'https' : 'http';
    const port = from.port === '' ? DEFAULT_PORT[scheme] : Number(from.port);
    const compiled: CompiledRoute<R> = {
      route,
      port,
      defaultPort: port === DEFAULT_PORT[scheme],
      matchPath: compilePath(route.match),
    };
    const host = from.hostname.toLowerCase();
    const list = byHost.get(host);
    if (list) list.push(compiled);
    else byHost.set(host, [compiled]);
  }
  return {
    match(request, listenerScheme) {
      const target = parseHost(request.host);
      if (!target) return undefined;
      const candidates = byHost.get(target.hostname);
      if (!candidates) return undefined;
      const query = request.path.indexOf('?');
      const path = query === -1 ? request.path : request.path.slice(0, query);
      const port = target.port ?? DEFAULT_PORT[listenerScheme];
      let fallback: RouteMatch<R> | undefined;
      for (const c of candidates) {
        const exact = c.port === port;
        if (!exact && (fallback || target.port !== undefined || !c.defaultPort)) continue;
        const prefix = c.matchPath(path);
        if (prefix === undefined) continue;
        if (exact) return { route: c.route, prefix };
        fallback = { route: c.route, prefix };
      }
      return fallback;
    },
  };
}

/** Returns the matched prefix, or undefined when the path does not match. */
function compilePath(match: RouteConfig['match']): (path: string) => string | undefined {
  switch (match.kind) {
    case 'prefix': {
      // A plain string prefix, as Envoy (and so Pomerium) matches it: `/a` also matches `/ab`.
      const prefix = match.prefix;
      return (path) => (path.startsWith(prefix) ? prefix : undefined);
    }
    case 'path': {
      const exact = match.path;
      return (path) => (path === exact ? exact : undefined);
    }
    case 'regex': {
      // Pomerium hands the pattern to Envoy's safe_regex, which must match the whole path.
      const re = new RegExp(`^(?:${match.regex})$`);
      return (path) => (re.test(path) ? '/' : undefined);
    }
    case 'any':
      return () => '/';
  }
}

interface HostTarget {
  /** Lower case; IPv6 literals in brackets, canonical (as `URL` writes them). */
  readonly hostname: string;
  readonly port: number | undefined;
}

/** Parses a Host header value (RFC 9110 §7.2: uri-host [ ":" port ]); undefined when malformed. */
export function parseHost(value: string): HostTarget | undefined {
  let hostname: string;
  let portText: string | undefined;
  if (value.startsWith('[')) {
    const end = value.indexOf(']');
    if (end === -1) return undefined;
    const rest = value.slice(end + 1);
    if (rest !== '' && !rest.startsWith(':')) return undefined;
    hostname = canonicalIpv6(value.slice(0, end + 1));
    if (hostname === '') return undefined;
    portText = rest === '' ? undefined : rest.slice(1);
  } else {
    const colon = value.indexOf(':');
    if (colon !== -1 && value.indexOf(':', colon + 1) !== -1) return undefined;
    hostname = (colon === -1 ? value : value.slice(0, colon)).toLowerCase();
    portText = colon === -1 ? undefined : value.slice(colon + 1);
  }
  if (hostname === '') return undefined;
  if (portText === undefined) return { hostname, port: undefined };
  if (!/^\d{1,5}$/.test(portText)) return undefined;
  const port = Number(portText);
  return port > 65535 ? undefined : { hostname, port };
}

function canonicalIpv6(bracketed: string): string {
  try {
    return new URL(`http://${bracketed}/`).hostname;
  } catch {
    return '';
  }
}
