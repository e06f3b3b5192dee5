/**
 * The data every step of the route pipeline reads: the facts of the request (taken from it
 * once), the caller once identified, and the ports to what lies outside (sign-in, the OAuth
 * server's bearer check, the signer, the forwarder).
 */
import type { IncomingMessage, OutgoingHttpHeaders } from 'node:http';
import type { Logger } from 'pino';
import type { RouteConfig } from '../../config/types.js';
import type { Observer } from '../../observe/observer.js';
import type { RequestSpan, RequestTracer } from '../../observe/types.js';
import type { BearerOutcome } from '../../oauth/server.js';
import type { PolicyInput, PolicyUser } from '../../policy/evaluate.js';
import type { Forwarder } from '../../proxy/forward.js';
import type { RouteMatch } from '../../proxy/match.js';
import type { SessionRecord } from '../../storage/types.js';
import type { Credentials } from '../../upstream/service.js';
import type { McpCall } from '../inspect.js';
import type { StartSignIn } from './answer.js';

export interface PipelinePorts {
  readonly forwarder: Forwarder;
  readonly logger: Logger;
  readonly scheme: 'http' | 'https';
  readonly trustedProxy: (address: string) => boolean;
  /** The signed-in user of this request (session cookie), if any. */
  authenticate(req: IncomingMessage): Promise<SessionRecord | undefined>;
  readonly startSignIn: StartSignIn;
  /** `X-Pomerium-Jwt-Assertion` for this user on this route. */
  assertionFor(route: RouteConfig, session: SessionRecord): Promise<string>;
  /** `jwt_claims_headers`: header name → claim name. */
  readonly claimsHeaders: Readonly<Record<string, string>>;
  /** The same names, lower case: removed from every client request (`claimHeaderNames`). */
  readonly claimHeaderNames: ReadonlySet<string>;
  /** The external token of a request on an `mcp.server` route (absent: no OAuth server). */
  bearer?(req: IncomingMessage, route: RouteConfig): BearerOutcome | Promise<BearerOutcome>;
  /** Revokes an MCP client's grant (its tokens stop working at once). */
  revokeGrant?(grantId: string): Promise<void>;
  /** Client mode's token for the session (absent: no `mcp.client` route gets one). */
  clientToken?(session: SessionRecord): Promise<string>;
  /** The upstream token vault (absent: no route holds upstream tokens). */
  readonly upstream?: UpstreamPort;
  /** Told of requests, decisions, token checks and upstream errors (absent: nobody listens). */
  readonly observer?: Observer;
  /** Traces (absent: off, and no request allocates anything for them). */
  readonly tracer?: RequestTracer;
}

export interface UpstreamPort {
  /** Whether requests to `route` carry an upstream token (no I/O). */
  holdsTokens(route: RouteConfig): boolean;
  /** Whether an upstream 401 with `resource_metadata` may reveal that `route` needs one. */
  mayDiscover(route: RouteConfig): boolean;
  /** Finds the upstream's OAuth from such a 401; true when the route now holds tokens. */
  learn(route: RouteConfig, wwwAuthenticate: string | undefined): Promise<boolean>;
  credentials(route: RouteConfig, sub: string): Promise<Credentials>;
  /** The upstream refused the token of `version`: refresh once (unless done meanwhile). */
  refreshAfterRejection(route: RouteConfig, sub: string, version: number): Promise<Credentials>;
  /** The upstream wants more scopes than the token has: forget it, ask for them next time. */
  stepUp(route: RouteConfig, sub: string, wwwAuthenticate: string | undefined): Promise<void>;
  /** The upstream keeps refusing a fresh token: delete it. */
  forget(route: RouteConfig, sub: string): Promise<void>;
}

/** What the steps need to know of the request, read from it once. */
export interface RouteRequest {
  readonly requestId: string;
  readonly match: RouteMatch;
  /** The decoded path (`requestPath`). */
  readonly path: string;
  readonly method: string;
  /** The raw request target, for sign-in's return. */
  readonly url: string;
  readonly origin: string | undefined;
  readonly accept: string | undefined;
  /** `performance.now()` when the pipeline took the request (durations are measured from it). */
  readonly startedAt: number;
  /** This request's span, when traces are on. */
  readonly span?: RequestSpan | undefined;
}

/** A request whose caller is known: the session, or undefined for nobody signed in. */
export interface CallerRequest extends RouteRequest {
  readonly session: SessionRecord | undefined;
  /** The grant of the bearer token presented (undefined: a session cookie or nobody). */
  readonly grantId?: string | undefined;
  /** The MCP client whose bearer token was presented (undefined: a session cookie or nobody). */
  readonly client?: McpClient | undefined;
}

/** An MCP client as its token names it (OAuth `client_id`, registered `client_name`). */
export interface McpClient {
  readonly id: string;
  readonly name: string | null;
}

export type ExtraHeaders = OutgoingHttpHeaders;

export function routeRequest(
  req: IncomingMessage,
  match: RouteMatch,
  requestId: string,
  path: string,
  span?: RequestSpan,
): RouteRequest {
  return {
    span,
    requestId,
    match,
    path,
    method: req.method ?? 'GET',
    url: req.url ?? '/',
    origin: req.headers.origin,
    accept: req.headers.accept,
    startedAt: performance.now(),
  };
}

/**
 * The request with its caller: a literal of one shape, not a spread (a spread of the request
 * costs more than the rest of this step, and would give the object a map of its own).
 */
export function callerRequest(
  r: RouteRequest,
  session: SessionRecord | undefined,
  grantId?: string,
  client?: McpClient,
): CallerRequest {
  return {
    requestId: r.requestId,
    match: r.match,
    path: r.path,
    method: r.method,
    url: r.url,
    origin: r.origin,
    accept: r.accept,
    startedAt: r.startedAt,
    span: r.span,
    session,
    grantId,
    client,
  };
}

export function policyInput(ctx: CallerRequest, call: McpCall | null): PolicyInput {
  const s = ctx.session;
  const user: PolicyUser | null = s
    ? { sub: s.sub, email: s.email, name: s.name, groups: s.groups, claims: s.claims }
    : null;
  return {
    user,
    http: { method: ctx.method, path: ctx.path },
    mcp: call ? { method: call.method, tool: call.tool } : null,
  };
}

export function routeName(route: RouteConfig): string {
  return route.name ?? `routes[${route.index}]`;
}
