import type { IncomingMessage, ServerResponse } from 'node:http';
import type { RouteConfig } from '../config/types.js';
import { authorizeMcpRequest, deniedResponse, type DeniedResponse } from '../mcp/authorize.js';
import { inspectMcpPost, readLimitedBody, type McpCall } from '../mcp/inspect.js';
import { decideRoute } from '../policy/route-policy.js';
import type { RouteMatch } from '../proxy/match.js';
import type { BearerOutcome } from '../oauth/server.js';
import type { SessionRecord } from '../storage/types.js';
import { answerPreflight, corsHeaders, unauthorized } from './mcp-cors.js';
import { refuseNonMcpMethod } from './mcp-methods.js';
import { sendJson, sendJsonRpcError } from './respond.js';
import {
  logDecision,
  policyInput,
  refuse,
  routeName,
  type RequestContext,
  type RouteHandlerDeps,
} from './route-context.js';
import { toolsListFilter } from './tools-list-filter.js';
import { forward } from './upstream.js';
import { fromUrl } from './route-urls.js';

/** Largest MCP POST body when a route sets no `max_request_bytes`. */
export const DEFAULT_MAX_REQUEST_BYTES = 1024 * 1024;

/** The request was answered while identifying the caller. */
const ANSWERED = Symbol('answered');

/**
 * An `mcp.server` route: CORS preflight before any auth; then the client's bearer token (a valid
 * one is the identity; any other Authorization is 401 `invalid_token`), else the session cookie,
 * which a foreign `Origin` may not use (MCP "Transports").
 */
export async function handleMcpRoute(
  deps: RouteHandlerDeps,
  req: IncomingMessage,
  res: ServerResponse,
  match: RouteMatch,
  requestId: string,
  path: string,
): Promise<void> {
  const route = match.route;
  if (route.mcp?.kind !== 'server') return;
  if (req.method === 'OPTIONS') return answerPreflight(req, res);
  if (refuseNonMcpMethod(req, res)) return;
  const session = await identifyCaller(deps, req, res, route, requestId);
  if (session === ANSWERED) return;
  const ctx: RequestContext = { requestId, match, session, path };
  const maxBytes = route.mcp.maxRequestBytes ?? DEFAULT_MAX_REQUEST_BYTES;
  if (req.method === 'POST') return handleMcpPost(deps, req, res, ctx, maxBytes);
  const decision = decideRoute(route, policyInput(ctx, req.method ?? 'GET', null));
  logDecision(deps.logger, ctx, req, null, decision);
  if (!decision.allow) return refuse(deps, req, res, ctx);
  return forward(deps, req, res, ctx, { isMcpPost: false });
}

/** The caller's session (bearer token first, then cookie), or ANSWERED when refused here. */
async function identifyCaller(
  deps: RouteHandlerDeps,
  req: IncomingMessage,
  res: ServerResponse,
  route: RouteConfig,
  requestId: string,
): Promise<SessionRecord | undefined | typeof ANSWERED> {
  const origin = req.headers.origin;
  const bearer: BearerOutcome = deps.bearer ? await deps.bearer(req, route) : { kind: 'none' };
  if (bearer.kind === 'valid') {
    if (origin !== undefined) {
      for (const [k, v] of Object.entries(corsHeaders(origin))) res.setHeader(k, v);
    }
    return bearer.session;
  }
  const session = await deps.authenticate(req);
  const foreign = origin !== undefined && origin !== fromUrl(route).origin;
  if (bearer.kind === 'invalid') {
    // RFC 6750 §3.1: the client learns its token is no good (and refreshes or re-authorizes).
    // A session cookie beside it does not rescue the request: what the client presented wins.
    deps.logger.info({ req_id: requestId, route: routeName(route) }, 'bearer token refused');
    unauthorized(res, route, origin, 'invalid_token');
    return ANSWERED;
  }
  if (foreign && !session && !route.allowPublicUnauthenticatedAccess) {
    // Nothing ambient to abuse: a browser-based client discovers OAuth from this answer.
    unauthorized(res, route, origin);
    return ANSWERED;
  }
  if (foreign) {
    sendJson(res, 403, { error: 'forbidden', error_description: 'Origin is not allowed' });
    return ANSWERED;
  }
  return session;
}

/** A JSON-RPC POST: read and inspect the whole body, then policy per call, failing closed. */
async function handleMcpPost(
  deps: RouteHandlerDeps,
  req: IncomingMessage,
  res: ServerResponse,
  ctx: RequestContext,
  maxBytes: number,
): Promise<void> {
  // The whole body is read before any decision: a body the gateway cannot fully read is
  // denied, never passed with the method unknown (REFERENCE §3).
  // Like Pomerium, a route that needs a user asks for one before reading any body.
  if (!ctx.session && !ctx.match.route.allowPublicUnauthenticatedAccess) {
    return refuse(deps, req, res, ctx);
  }
  const body = await readBody(req, res, maxBytes);
  if (!body) return;
  const inspected = inspectMcpPost({
    contentType: req.headers['content-type'],
    body,
    headers: { mcpMethod: stringHeader(req, 'mcp-method'), mcpName: stringHeader(req, 'mcp-name') },
  });
  if (!inspected.ok) {
    const { code, message } = inspected.jsonRpcError;
    return sendJsonRpcError(res, inspected.status, inspected.id, code, message);
  }
  const decideCall = (call: McpCall | null) =>
    decideRoute(ctx.match.route, policyInput(ctx, 'POST', call));
  const verdict = authorizeMcpRequest(inspected.calls, decideCall, inspected.responses);
  inspected.calls.forEach((call, i) =>
    logDecision(deps.logger, ctx, req, call, verdict.decisions[i]!),
  );
  if (!verdict.allow) {
    if (!ctx.session) return refuse(deps, req, res, ctx);
    return sendDenied(
      res,
      deniedResponse(inspected.calls, verdict.denial, ctx.requestId, inspected.batch),
    );
  }
  await forward(deps, req, res, ctx, {
    isMcpPost: true,
    body,
    jsonRpcErrorId: inspected.calls.find((c) => c.id !== null)?.id ?? null,
    onResponse: toolsListFilter(inspected.calls, decideCall, (issue) =>
      deps.logger.warn({ req_id: ctx.requestId, route: routeName(ctx.match.route) }, issue),
    ),
  });
}

function sendDenied(res: ServerResponse, denied: DeniedResponse): void {
  res.writeHead(denied.status, {
    ...denied.headers,
    'content-length': Buffer.byteLength(denied.body),
  });
  res.end(denied.body);
}

/** The whole body, or undefined once the request has been answered (too large, client gone). */
async function readBody(
  req: IncomingMessage,
  res: ServerResponse,
  maxBytes: number,
): Promise<Buffer | undefined> {
  let read;
  try {
    read = await readLimitedBody(req, maxBytes);
  } catch {
    // The client went away mid-body: nothing to answer.
    res.destroy();
    return undefined;
  }
  if (!read.ok) {
    sendJsonRpcError(res, 413, null, -32600, `request body exceeds ${maxBytes} bytes`, {
      connection: 'close',
    });
    return undefined;
  }
  return read.body;
}

function stringHeader(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return typeof v === 'string' ? v : undefined;
}
