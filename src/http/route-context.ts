import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import type { RouteConfig } from '../config/types.js';
import type { McpCall } from '../mcp/inspect.js';
import type { Decision, PolicyInput, PolicyUser } from '../policy/evaluate.js';
import type { Forwarder } from '../proxy/forward.js';
import type { RouteMatch } from '../proxy/match.js';
import type { BearerOutcome } from '../oauth/server.js';
import type { SessionRecord } from '../storage/types.js';
import { unauthorized } from './mcp-cors.js';
import { sendJson, wantsHtml } from './respond.js';

export interface RouteHandlerDeps {
  readonly forwarder: Forwarder;
  readonly logger: Logger;
  readonly scheme: 'http' | 'https';
  readonly trustedProxy: (address: string) => boolean;
  /** The signed-in user of this request, if any. */
  authenticate(req: IncomingMessage): Promise<SessionRecord | undefined>;
  /** Sends a browser to sign in, coming back to `returnTo`. */
  startSignIn(req: IncomingMessage, res: ServerResponse, returnTo: string): Promise<void>;
  /** `X-Pomerium-Jwt-Assertion` for this user on this route. */
  assertionFor(route: RouteConfig, session: SessionRecord): Promise<string>;
  /** `jwt_claims_headers`: header name → claim name. */
  readonly claimsHeaders: Readonly<Record<string, string>>;
  /** The same names, lower case: removed from every client request (`claimHeaderNames`). */
  readonly claimHeaderNames: ReadonlySet<string>;
  /** The external token of a request on an `mcp.server` route (absent: no OAuth server). */
  bearer?(req: IncomingMessage, route: RouteConfig): Promise<BearerOutcome>;
}

export interface RequestContext {
  readonly requestId: string;
  readonly match: RouteMatch;
  readonly session: SessionRecord | undefined;
  readonly path: string;
}

export function policyInput(
  ctx: RequestContext,
  method: string,
  call: McpCall | null,
): PolicyInput {
  const s = ctx.session;
  const user: PolicyUser | null = s
    ? { sub: s.sub, email: s.email, name: s.name, groups: s.groups, claims: s.claims }
    : null;
  return {
    user,
    http: { method, path: ctx.path },
    mcp: call ? { method: call.method, tool: call.tool } : null,
  };
}

export function routeName(route: RouteConfig): string {
  return route.name ?? `routes[${route.index}]`;
}

/** Every decision is logged with what decided it (never sent to the client). */
export function logDecision(
  logger: Logger,
  ctx: RequestContext,
  req: IncomingMessage,
  call: McpCall | null,
  decision: Decision,
): void {
  logger.info(
    {
      req_id: ctx.requestId,
      route: routeName(ctx.match.route),
      user: ctx.session?.email ?? ctx.session?.sub ?? null,
      http_method: req.method,
      mcp_method: call?.method,
      tool: call?.tool ?? undefined,
      allow: decision.allow,
      rule: decision.rule,
      reason: decision.reason,
    },
    'authorization decision',
  );
}

/** Nobody signed in: a browser is sent to sign in, anything else gets 401; else 403. */
export async function refuse(
  deps: RouteHandlerDeps,
  req: IncomingMessage,
  res: ServerResponse,
  ctx: RequestContext,
): Promise<void> {
  if (!ctx.session) {
    if (wantsHtml(req.headers.accept) && (req.method === 'GET' || req.method === 'HEAD')) {
      await deps.startSignIn(req, res, req.url ?? '/');
      return;
    }
    if (ctx.match.route.mcp?.kind === 'server') {
      return unauthorized(res, ctx.match.route, req.headers.origin);
    }
    // Clients match on the reason phrase (REFERENCE §2).
    sendJson(
      res,
      401,
      { error: 'unauthorized', error_description: 'sign in to use this route' },
      {},
      'Unauthorized',
    );
    return;
  }
  sendJson(res, 403, {
    error: 'forbidden',
    error_description: `access denied by policy; see the authorization log for request ${ctx.requestId}`,
  });
}
