import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import type { RouteConfig } from '../config/types.js';
import type { JsonRpcId } from '../mcp/inspect.js';
import type { ForwardOptions } from '../proxy/forward.js';
import { upstreamRequestHeaders, type RouteKind } from '../proxy/headers.js';
import { identityHeaderValue } from '../proxy/identity-headers.js';
import { upstreamUrl } from '../proxy/upstream-url.js';
import type { SessionRecord } from '../storage/types.js';
import { routeName, type RequestContext, type RouteHandlerDeps } from './route-context.js';
import { upstreamBases } from './route-urls.js';

export interface UpstreamOptions {
  readonly isMcpPost: boolean;
  readonly body?: Buffer;
  readonly jsonRpcErrorId?: JsonRpcId | null;
  readonly onResponse?: ForwardOptions['onResponse'];
}

/** Streams the request to the route's upstream, with identity headers when the route asks. */
export async function forward(
  deps: RouteHandlerDeps,
  req: IncomingMessage,
  res: ServerResponse,
  ctx: RequestContext,
  options: UpstreamOptions,
): Promise<void> {
  const { route } = ctx.match;
  const headers = await upstreamHeaders(deps, req, route, ctx.session);
  const upstreams = upstreamBases(route).map((to) =>
    upstreamUrl(to, req.url ?? '/', ctx.match.prefix, route.prefixRewrite),
  );
  // MCP routes stream for as long as they need; other routes get Pomerium's 30 s default.
  const isMcp = route.mcp !== null;
  const result = await deps.forwarder.forward(req, res, {
    upstreams,
    headers,
    body: options.body,
    timeoutMs: route.timeoutMs ?? (isMcp ? null : 30_000),
    idleTimeoutMs: route.idleTimeoutMs ?? (isMcp ? null : 5 * 60_000),
    jsonRpcErrorId: options.jsonRpcErrorId ?? null,
    onResponse: options.onResponse,
    isMcpPost: options.isMcpPost,
  });
  if (result.error) {
    deps.logger.warn(
      { req_id: ctx.requestId, route: routeName(route), err: result.error },
      'upstream request failed',
    );
  }
}

async function upstreamHeaders(
  deps: RouteHandlerDeps,
  req: IncomingMessage,
  route: RouteConfig,
  session: SessionRecord | undefined,
): Promise<OutgoingHttpHeaders> {
  const headers: OutgoingHttpHeaders = upstreamRequestHeaders(req.headers, {
    peerAddress: req.socket.remoteAddress,
    listenerScheme: deps.scheme,
    trustedProxy: deps.trustedProxy,
    routeKind: routeKind(route),
    preserveHostHeader: route.preserveHostHeader,
    claimHeaders: deps.claimHeaderNames,
  });
  if (session && route.passIdentityHeaders) {
    headers['x-pomerium-jwt-assertion'] = await deps.assertionFor(route, session);
    for (const [name, claim] of Object.entries(deps.claimsHeaders)) {
      const value = claimValue(session, claim);
      if (value !== undefined) headers[name.toLowerCase()] = identityHeaderValue(value);
    }
  }
  return headers;
}

function routeKind(route: RouteConfig): RouteKind {
  if (route.mcp?.kind === 'server') return 'mcp-server';
  if (route.mcp?.kind === 'client') return 'mcp-client';
  return 'plain';
}

function claimValue(session: SessionRecord, claim: string): string | undefined {
  const value =
    claim === 'email' ? session.email : claim === 'groups' ? session.groups : session.claims[claim];
  if (value === undefined || value === null) return undefined;
  return Array.isArray(value) ? value.map(String).join(',') : String(value);
}
