import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import type { RouteConfig } from '../config/types.js';
import { authorizeMcpRequest, deniedResponse } from '../mcp/authorize.js';
import { filterToolsListJson, ToolsListSseFilter } from '../mcp/filter-tools.js';
import { inspectMcpPost, readLimitedBody, type JsonRpcId, type McpCall } from '../mcp/inspect.js';
import type { Decision, PolicyInput, PolicyUser } from '../policy/evaluate.js';
import { decideRoute } from '../policy/route-policy.js';
import type { Forwarder } from '../proxy/forward.js';
import { upstreamRequestHeaders } from '../proxy/headers.js';
import type { RouteMatch } from '../proxy/match.js';
import { upstreamUrl } from '../proxy/upstream-url.js';
import { bearerChallenge } from '../oauth/metadata.js';
import type { BearerOutcome } from '../oauth/server.js';
import type { SessionRecord } from '../storage/types.js';
import { sendJson, sendJsonRpcError, wantsHtml } from './respond.js';
import { Transform, type TransformCallback } from 'node:stream';

/** Largest MCP POST body when a route sets no `max_request_bytes`. */
export const DEFAULT_MAX_REQUEST_BYTES = 1024 * 1024;

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
  /** The external token of a request on an `mcp.server` route (absent: no OAuth server). */
  bearer?(req: IncomingMessage, route: RouteConfig): Promise<BearerOutcome>;
}

/** What browser-based MCP clients may read from our answers (REFERENCE §2). */
const MCP_EXPOSED_HEADERS = 'WWW-Authenticate, Mcp-Session-Id';

interface RequestContext {
  readonly requestId: string;
  readonly match: RouteMatch;
  readonly session: SessionRecord | undefined;
  readonly path: string;
}

/**
 * Serves one request that matched a route: sign-in, policy (per JSON-RPC call on MCP routes,
 * failing closed), then the streaming proxy with identity headers.
 */
export async function handleRoute(
  deps: RouteHandlerDeps,
  req: IncomingMessage,
  res: ServerResponse,
  match: RouteMatch,
  requestId: string,
  path: string,
): Promise<void> {
  const mcp = match.route.mcp;
  if (mcp?.kind === 'server') {
    await handleMcpEntry(deps, req, res, match, requestId, path);
    return;
  }
  const session = await deps.authenticate(req);
  const ctx: RequestContext = { requestId, match, session, path };
  const decision = decideRoute(match.route, policyInput(ctx, req.method ?? 'GET', null));
  logDecision(deps.logger, ctx, req, null, decision);
  if (!decision.allow) {
    await refuse(deps, req, res, ctx);
    return;
  }
  await forward(deps, req, res, ctx, { isMcpPost: false });
}

/**
 * An `mcp.server` route: CORS preflight before any auth; then the client's bearer token (a valid
 * one is the identity; any other Authorization is 401 `invalid_token`), else the session cookie,
 * which a foreign `Origin` may not use (MCP "Transports").
 */
async function handleMcpEntry(
  deps: RouteHandlerDeps,
  req: IncomingMessage,
  res: ServerResponse,
  match: RouteMatch,
  requestId: string,
  path: string,
): Promise<void> {
  const route = match.route;
  if (route.mcp?.kind !== 'server') return;
  const origin = req.headers.origin;
  if (req.method === 'OPTIONS') {
    res.writeHead(204, {
      ...corsHeaders(origin),
      'access-control-allow-methods': 'GET, POST, DELETE, OPTIONS',
      'access-control-allow-headers':
        req.headers['access-control-request-headers'] ??
        'authorization, content-type, mcp-protocol-version, mcp-session-id, last-event-id',
      'access-control-max-age': '3600',
    });
    res.end();
    return;
  }
  const bearer: BearerOutcome = deps.bearer ? await deps.bearer(req, route) : { kind: 'none' };
  let session: SessionRecord | undefined;
  if (bearer.kind === 'valid') {
    session = bearer.session;
    if (origin !== undefined) {
      for (const [k, v] of Object.entries(corsHeaders(origin))) res.setHeader(k, v);
    }
  } else {
    session = await deps.authenticate(req);
    const foreign = origin !== undefined && origin !== new URL(route.from).origin;
    if (bearer.kind === 'invalid') {
      // RFC 6750 §3.1: the client learns its token is no good (and refreshes or re-authorizes).
      // A session cookie beside it does not rescue the request: what the client presented wins.
      deps.logger.info({ req_id: requestId, route: routeName(route) }, 'bearer token refused');
      return unauthorized(res, route, origin, 'invalid_token');
    }
    if (foreign && !session && !route.allowPublicUnauthenticatedAccess) {
      // Nothing ambient to abuse: a browser-based client discovers OAuth from this answer.
      return unauthorized(res, route, origin);
    }
    if (foreign) {
      sendJson(res, 403, { error: 'forbidden', error_description: 'Origin is not allowed' });
      return;
    }
  }
  const ctx: RequestContext = { requestId, match, session, path };
  await handleMcpServerRoute(
    deps,
    req,
    res,
    ctx,
    route.mcp.maxRequestBytes ?? DEFAULT_MAX_REQUEST_BYTES,
  );
}

function corsHeaders(origin: string | undefined): Record<string, string> {
  return {
    'access-control-allow-origin': origin ?? '*',
    'access-control-expose-headers': MCP_EXPOSED_HEADERS,
    vary: 'Origin',
  };
}

/** 401 as Pomerium sends it on MCP routes (reason `Unauthorized`, RFC 9728 §5.1 challenge). */
function unauthorized(
  res: ServerResponse,
  route: RouteConfig,
  origin: string | undefined,
  error?: 'invalid_token',
): void {
  const resource = route.mcp?.kind === 'server' ? route.mcp.resourceUrl : route.from;
  sendJson(
    res,
    401,
    error
      ? {
          error,
          error_description:
            'the access token is invalid, expired, revoked or for another resource',
        }
      : { error: 'unauthorized', error_description: 'sign in to use this route' },
    { ...corsHeaders(origin), 'www-authenticate': bearerChallenge(resource, error) },
    'Unauthorized',
  );
}

async function handleMcpServerRoute(
  deps: RouteHandlerDeps,
  req: IncomingMessage,
  res: ServerResponse,
  ctx: RequestContext,
  maxBytes: number,
): Promise<void> {
  const method = req.method ?? 'GET';
  if (method !== 'POST') {
    const decision = decideRoute(ctx.match.route, policyInput(ctx, method, null));
    logDecision(deps.logger, ctx, req, null, decision);
    if (!decision.allow) return refuse(deps, req, res, ctx);
    return forward(deps, req, res, ctx, { isMcpPost: false });
  }

  // The whole body is read before any decision: a body the gateway cannot fully read is
  // denied, never passed with the method unknown (REFERENCE §3).
  // Like Pomerium, a route that needs a user asks for one before reading any body.
  if (!ctx.session && !ctx.match.route.allowPublicUnauthenticatedAccess) {
    return refuse(deps, req, res, ctx);
  }
  let read;
  try {
    read = await readLimitedBody(req, maxBytes);
  } catch {
    // The client went away mid-body: nothing to answer.
    res.destroy();
    return;
  }
  if (!read.ok) {
    sendJsonRpcError(res, 413, null, -32600, `request body exceeds ${maxBytes} bytes`, {
      connection: 'close',
    });
    return;
  }
  const header = (name: string) => {
    const v = req.headers[name];
    return typeof v === 'string' ? v : undefined;
  };
  const inspected = inspectMcpPost({
    contentType: req.headers['content-type'],
    body: read.body,
    headers: { mcpMethod: header('mcp-method'), mcpName: header('mcp-name') },
  });
  if (!inspected.ok) {
    sendJsonRpcError(
      res,
      inspected.status,
      inspected.id,
      inspected.jsonRpcError.code,
      inspected.jsonRpcError.message,
    );
    return;
  }
  const decideCall = (call: McpCall | null) =>
    decideRoute(ctx.match.route, policyInput(ctx, method, call));
  const verdict = authorizeMcpRequest(inspected.calls, decideCall, inspected.responses);
  inspected.calls.forEach((call, i) =>
    logDecision(deps.logger, ctx, req, call, verdict.decisions[i]!),
  );
  if (!verdict.allow) {
    if (!ctx.session) return refuse(deps, req, res, ctx);
    const denied = deniedResponse(inspected.calls, verdict.denial, ctx.requestId, inspected.batch);
    res.writeHead(denied.status, {
      ...denied.headers,
      'content-length': Buffer.byteLength(denied.body),
    });
    res.end(denied.body);
    return;
  }

  // tools/list answers show only the tools this caller may call.
  const listIds = new Set<JsonRpcId>(
    inspected.calls.filter((c) => c.method === 'tools/list' && c.id !== null).map((c) => c.id!),
  );
  const allowTool = (name: string) =>
    decideCall({ id: null, method: 'tools/call', tool: name }).allow;
  const firstId = inspected.calls.find((c) => c.id !== null)?.id ?? null;
  await forward(deps, req, res, ctx, {
    isMcpPost: true,
    body: read.body,
    jsonRpcErrorId: firstId,
    onResponse:
      listIds.size === 0
        ? undefined
        : (upstreamRes) => {
            // Media types are case-insensitive (RFC 9110 §8.3.1): `Application/JSON` must not
            // slip past the filter.
            const type = String(upstreamRes.headers['content-type'] ?? '').toLowerCase();
            if (type.startsWith('text/event-stream')) {
              return new ToolsListSseFilter({ ids: listIds, allowTool });
            }
            // Anything else is read as JSON, which fails closed: a body that is not a
            // tools/list answer becomes an error, never an unfiltered list.
            return new JsonToolsFilter(listIds, allowTool);
          },
  });
}

/**
 * Buffers a JSON tools/list answer (small by nature; capped by the filter) and re-emits it
 * filtered. The upstream's Content-Length no longer holds, so the forwarder must not copy it.
 */
class JsonToolsFilter extends Transform {
  private readonly chunks: Buffer[] = [];
  constructor(
    private readonly ids: ReadonlySet<JsonRpcId>,
    private readonly allowTool: (name: string) => boolean,
  ) {
    super();
  }
  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.chunks.push(chunk);
    done();
  }
  override _flush(done: TransformCallback): void {
    const result = filterToolsListJson(Buffer.concat(this.chunks), this.ids, this.allowTool);
    done(null, result.body);
  }
}

async function forward(
  deps: RouteHandlerDeps,
  req: IncomingMessage,
  res: ServerResponse,
  ctx: RequestContext,
  options: {
    isMcpPost: boolean;
    body?: Buffer;
    jsonRpcErrorId?: JsonRpcId | null;
    onResponse?: Parameters<Forwarder['forward']>[2]['onResponse'];
  },
): Promise<void> {
  const { route } = ctx.match;
  const kind =
    route.mcp?.kind === 'server'
      ? 'mcp-server'
      : route.mcp?.kind === 'client'
        ? 'mcp-client'
        : 'plain';
  const headers: OutgoingHttpHeaders = upstreamRequestHeaders(req.headers, {
    peerAddress: req.socket.remoteAddress,
    listenerScheme: deps.scheme,
    trustedProxy: deps.trustedProxy,
    routeKind: kind,
    preserveHostHeader: false,
  });
  if (ctx.session && route.passIdentityHeaders) {
    headers['x-pomerium-jwt-assertion'] = await deps.assertionFor(route, ctx.session);
    for (const [name, claim] of Object.entries(deps.claimsHeaders)) {
      const value = claimValue(ctx.session, claim);
      if (value !== undefined) headers[name.toLowerCase()] = value;
    }
  }
  const upstreams = route.to.map((to) =>
    upstreamUrl(new URL(to), req.url ?? '/', ctx.match.prefix, route.prefixRewrite),
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

function claimValue(session: SessionRecord, claim: string): string | undefined {
  const value =
    claim === 'email' ? session.email : claim === 'groups' ? session.groups : session.claims[claim];
  if (value === undefined || value === null) return undefined;
  return Array.isArray(value) ? value.map(String).join(',') : String(value);
}

/** Nobody signed in: a browser is sent to sign in, anything else gets 401; else 403. */
async function refuse(
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

function policyInput(ctx: RequestContext, method: string, call: McpCall | null): PolicyInput {
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

function routeName(route: RouteConfig): string {
  return route.name ?? `routes[${route.index}]`;
}

/** Every decision is logged with what decided it (never sent to the client). */
function logDecision(
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
