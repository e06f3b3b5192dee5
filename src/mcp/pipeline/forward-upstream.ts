/**
 * Step 6: forward to the route's upstream, with the headers the earlier steps chose and an
 * optional rewrite of the answer (the tools/list filter). Upstream failures are answered by
 * the forwarder and logged here, once, with the request's id and route.
 */
import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import type { RouteConfig } from '../../config/types.js';
import type { UpstreamError } from '../../proxy/errors.js';
import type { ForwardOptions, ForwardResult } from '../../proxy/forward.js';
import { upstreamRequestHeaders, type RouteKind } from '../../proxy/headers.js';
import { upstreamBases } from '../../proxy/route-urls.js';
import { upstreamPath } from '../../proxy/upstream-url.js';
import type { JsonRpcId } from '../inspect.js';
import { routeName, type CallerRequest, type PipelinePorts } from './context.js';

export interface ForwardPlan {
  /**
   * The credentials and identity headers for the upstream (steps 4 and 5), laid over the
   * client's (later ones win). Kept apart, not merged: header objects are large dictionaries,
   * and copying them per request costs more than the rest of the step.
   */
  readonly extraHeaders: readonly OutgoingHttpHeaders[];
  /** Set on an MCP POST: the body already read, and the id a gateway error answers. */
  readonly mcpPost?: { readonly body: Buffer; readonly jsonRpcErrorId: JsonRpcId | null };
  readonly transform?: ForwardOptions['onResponse'];
  /** An upstream answer handled by the caller instead of the client (`ForwardOptions`). */
  readonly decline?: ForwardOptions['decline'];
}

/** Pomerium's defaults for routes other than MCP routes (which stream as long as they need). */
const PLAIN_TIMEOUT_MS = 30_000;
const PLAIN_IDLE_TIMEOUT_MS = 5 * 60_000;

export function forwardUpstream(
  ports: PipelinePorts,
  req: IncomingMessage,
  res: ServerResponse,
  ctx: CallerRequest,
  plan: ForwardPlan,
): Promise<ForwardResult> {
  const { route, prefix } = ctx.match;
  const isMcp = route.mcp !== null;
  // A fresh object from `upstreamRequestHeaders`: filled in place.
  const headers = clientHeaders(ports, req, route);
  // The id the answer and the gateway's log lines carry, so the upstream's logs can join them.
  headers['x-request-id'] = ctx.requestId;
  for (const extra of plan.extraHeaders) Object.assign(headers, extra);
  ctx.span?.inject(headers);
  const forwarded = ports.forwarder.forward(req, res, {
    upstreams: upstreamBases(route),
    path: (to) => upstreamPath(to, ctx.url, prefix, route.prefixRewrite),
    headers,
    body: plan.mcpPost?.body,
    timeoutMs: route.timeoutMs ?? (isMcp ? null : PLAIN_TIMEOUT_MS),
    idleTimeoutMs: route.idleTimeoutMs ?? (isMcp ? null : PLAIN_IDLE_TIMEOUT_MS),
    jsonRpcErrorId: plan.mcpPost?.jsonRpcErrorId ?? null,
    onResponse: plan.transform,
    isMcpPost: plan.mcpPost !== undefined,
    decline: plan.decline,
  });
  // Not awaited: a stream's forward lasts as long as its client, and a suspended frame would
  // hold this one's locals all that time (serve.ts, `serveWhole`).
  return forwarded.then((result) => {
    if (result.error) logUpstreamError(ports, ctx, result, result.error);
    return result;
  });
}

function logUpstreamError(
  ports: PipelinePorts,
  ctx: CallerRequest,
  result: ForwardResult,
  error: UpstreamError,
): void {
  const { route } = ctx.match;
  ports.observer?.upstreamError(routeName(route), error.code);
  ports.logger.warn(
    {
      req_id: ctx.requestId,
      route: routeName(route),
      upstream: result.upstream?.origin,
      err: error,
    },
    `upstream request failed: ${error.message}`,
  );
}

/** The client's headers as the upstream may see them (hop-by-hop, credentials, identity out). */
function clientHeaders(
  ports: PipelinePorts,
  req: IncomingMessage,
  route: RouteConfig,
): OutgoingHttpHeaders {
  return upstreamRequestHeaders(req.headers, {
    peerAddress: req.socket.remoteAddress,
    listenerScheme: ports.scheme,
    trustedProxy: ports.trustedProxy,
    routeKind: routeKind(route),
    preserveHostHeader: route.preserveHostHeader,
    claimHeaders: ports.claimHeaderNames,
  });
}

function routeKind(route: RouteConfig): RouteKind {
  if (route.mcp?.kind === 'server') return 'mcp-server';
  if (route.mcp?.kind === 'client') return 'mcp-client';
  return 'plain';
}
