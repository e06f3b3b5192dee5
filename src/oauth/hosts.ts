/**
 * The MCP hosts the authorization server answers for: one per origin of an `mcp.server` route,
 * each with its own oidc-provider (issuer = that origin), its resources and its consent
 * interaction. A request's host is found like a route (port rules included), without I/O.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { RouteConfig } from '../config/types.js';
import { compileRoutes, type RouteMatcher } from '../proxy/match.js';
import { ConsentInteraction, type InteractionDeps } from './interactions.js';
import type { McpResource } from './metadata.js';
import { createMcpProvider, type McpProvider, type McpProviderOptions } from './provider.js';

export interface Host {
  readonly issuer: string;
  readonly resources: readonly McpResource[];
  readonly oidc: McpProvider;
  readonly interaction: ConsentInteraction;
}

/**
 * An endpoint module's handler: the request, on `host`, with oidc-provider's path and query
 * for it when the request used an alias (`routes.ts` `providerUrl`).
 */
export type OAuthEndpoint = (
  req: IncomingMessage,
  res: ServerResponse,
  host: Host,
  providerUrl: string | undefined,
) => Promise<void>;

/** What every host shares: its provider's options and its interaction's, but the per-host ones. */
export interface HostDeps {
  readonly provider: Omit<McpProviderOptions, 'issuer' | 'resources'>;
  readonly interaction: Omit<InteractionDeps, 'provider' | 'resources'>;
}

export class HostDirectory {
  private constructor(
    private readonly hosts: ReadonlyMap<string, Host>,
    private readonly matcher: RouteMatcher,
  ) {}

  /** Builds a host for each origin of an `mcp.server` route in `routes`. */
  static async create(routes: readonly RouteConfig[], deps: HostDeps): Promise<HostDirectory> {
    const mcpRoutes = routes.filter((r) => r.mcp?.kind === 'server');
    const hosts = new Map<string, Host>();
    for (const [issuer, resources] of resourcesByIssuer(mcpRoutes)) {
      hosts.set(issuer, await createHost(issuer, resources, deps));
    }
    // Matched like routes, on a catch-all copy of each route.
    const matcher = compileRoutes(
      mcpRoutes.map((r) => ({ ...r, match: { kind: 'any' as const } })),
    );
    return new HostDirectory(hosts, matcher);
  }

  /** The host a request is addressed to, by its Host header and the listener's scheme. */
  of(req: IncomingMessage): Host | undefined {
    const scheme = (req.socket as { encrypted?: boolean }).encrypted ? 'https' : 'http';
    const route = this.matcher.match({ host: req.headers.host ?? '', path: '/' }, scheme)?.route;
    return route ? this.forRoute(route) : undefined;
  }

  /** Some host (undefined when none): for what every host's provider does alike. */
  any(): Host | undefined {
    return this.hosts.values().next().value;
  }

  /** The host serving an `mcp.server` route (asked on every request with a bearer token). */
  forRoute(route: RouteConfig): Host | undefined {
    let origin = this.origins.get(route);
    if (origin === undefined) this.origins.set(route, (origin = new URL(route.from).origin));
    return this.hosts.get(origin);
  }

  /** Each route's `from` origin, parsed once. */
  private readonly origins = new WeakMap<RouteConfig, string>();
}

function resourcesByIssuer(mcpRoutes: readonly RouteConfig[]): Map<string, McpResource[]> {
  const byIssuer = new Map<string, McpResource[]>();
  for (const route of mcpRoutes) {
    if (route.mcp?.kind !== 'server') continue;
    const issuer = new URL(route.from).origin;
    const list = byIssuer.get(issuer) ?? [];
    list.push({ resource: route.mcp.resourceUrl, name: route.name ?? route.mcp.resourceUrl });
    byIssuer.set(issuer, list);
  }
  return byIssuer;
}

async function createHost(
  issuer: string,
  resources: readonly McpResource[],
  deps: HostDeps,
): Promise<Host> {
  const oidc = await createMcpProvider({
    ...deps.provider,
    issuer,
    resources: new Set(resources.map((r) => r.resource)),
  });
  const interaction = new ConsentInteraction({
    ...deps.interaction,
    provider: oidc.provider,
    resources: new Map(resources.map((r) => [r.resource, r.name])),
  });
  return { issuer, resources, oidc, interaction };
}
