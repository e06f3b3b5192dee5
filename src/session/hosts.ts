/**
 * The hosts sign-in knows (REFERENCE §11, Pomerium's model): the authenticate host, the one
 * that talks to the identity provider (`authenticate_service_url`, else the first route's
 * origin), and the route hosts, each of which holds its own session cookie. A request is
 * placed on one of them by its Host header, with the port rules of route matching
 * (`src/proxy/match.ts`), so what a hand-off may name is exactly a configured `from` origin.
 */
import type { IncomingMessage } from 'node:http';
import { compileRoutes, type RouteMatcher, type Scheme } from '../proxy/match.js';

export class SignInHosts {
  private readonly matcher: RouteMatcher<{ from: string; match: { kind: 'any' } }>;
  private readonly routeOrigins: ReadonlySet<string>;

  /**
   * `authOrigin`: the authenticate host's origin; `routeFroms`: every route's `from`;
   * `scheme`: the listener's.
   */
  readonly authOrigin: string;

  constructor(
    authOrigin: string,
    routeFroms: readonly string[],
    private readonly scheme: Scheme,
  ) {
    this.authOrigin = new URL(authOrigin).origin;
    this.routeOrigins = new Set(routeFroms.map((from) => new URL(from).origin));
    // The authenticate host first: when it is a route host too, a request there is its.
    const origins = [this.authOrigin, ...this.routeOrigins];
    this.matcher = compileRoutes(origins.map((from) => ({ from, match: { kind: 'any' } })));
  }

  /** Whether some route host is not the authenticate host: only then is there a hand-off. */
  get crossHost(): boolean {
    return [...this.routeOrigins].some((origin) => origin !== this.authOrigin);
  }

  /** The configured origin a request was sent to, or undefined for a host no route names. */
  originOf(req: IncomingMessage): string | undefined {
    const host = req.headers.host ?? '';
    return this.matcher.match({ host, path: '/' }, this.scheme)?.route.from;
  }

  /** The route host a request was sent to, when it must sign in through the authenticate host. */
  remoteOrigin(req: IncomingMessage): string | undefined {
    const origin = this.originOf(req);
    return origin !== undefined && origin !== this.authOrigin ? origin : undefined;
  }

  /** Whether the request was sent to the authenticate host. */
  isAuthHost(req: IncomingMessage): boolean {
    return this.originOf(req) === this.authOrigin;
  }

  /** Every route host's origin, once each. */
  routeOriginList(): string[] {
    return [...this.routeOrigins];
  }

  /** Whether `origin` is a route's `from` origin (ports included). */
  isRouteOrigin(origin: string): boolean {
    return this.routeOrigins.has(origin);
  }
}
