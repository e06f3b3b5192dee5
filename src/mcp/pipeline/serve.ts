/**
 * A request that matched a route, top to bottom. On an `mcp.server` route:
 *   0. methods     CORS preflight first (before any auth), then only the transport's methods
 *   1. identify    bearer token, else session cookie (Origin rules)        identify.ts
 *   2. read body   the whole body, inspected into JSON-RPC calls            read-body.ts
 *   3. decide      policy per call, fail-closed, batches whole              decide.ts
 *   4. credentials the user's upstream token (TI), refreshed when due       credentials.ts
 *   5. assertion   X-Pomerium-Jwt-Assertion and claim headers               assertion.ts
 *   6. forward     streamed, with the tools/list transform on its answer    forward-upstream.ts
 *      (4–6 together, with one refresh and retry on an upstream 401:        forward-with-credentials.ts)
 * Other routes (and GET/DELETE on MCP routes) skip 2 and decide once for the request.
 * Each step returns data; a refusal is an `Answer`, written by `sendAnswer` only.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { RouteMatch } from '../../proxy/match.js';
import { sendAnswer, type Answer } from './answer.js';
import {
  callerRequest,
  logDecision,
  routeName,
  routeRequest,
  type CallerRequest,
  type PipelinePorts,
  type RouteRequest,
} from './context.js';
import { decideCalls, decideRequest, signInFirst } from './decide.js';
import { forwardWithCredentials } from './forward-with-credentials.js';
import { identifyCaller } from './identify.js';
import { methodAnswer } from './methods.js';
import { DEFAULT_MAX_REQUEST_BYTES, readCalls } from './read-body.js';
import { toolsListFilter } from './tools-list-transform.js';

export async function serveRoute(
  ports: PipelinePorts,
  req: IncomingMessage,
  res: ServerResponse,
  match: RouteMatch,
  requestId: string,
  path: string,
): Promise<void> {
  const request = routeRequest(req, match, requestId, path);
  if (match.route.mcp?.kind === 'server') return serveMcpRoute(ports, req, res, request);
  const ctx = callerRequest(request, await ports.authenticate(req));
  return serveWhole(ports, req, res, ctx);
}

async function serveMcpRoute(
  ports: PipelinePorts,
  req: IncomingMessage,
  res: ServerResponse,
  request: RouteRequest,
): Promise<void> {
  const early = methodAnswer(request.method, req.headers, request.origin);
  if (early) return sendAnswer(req, res, early, ports.startSignIn);
  const caller = await identifyCaller(ports, req, request.match.route);
  if (!caller.ok) {
    if (caller.note) ports.logger.info(logFields(request), caller.note);
    return sendAnswer(req, res, caller.answer, ports.startSignIn);
  }
  for (const name in caller.responseHeaders) res.setHeader(name, caller.responseHeaders[name]!);
  const ctx = callerRequest(request, caller.session, caller.grantId);
  if (ctx.method === 'POST') return serveMcpPost(ports, req, res, ctx);
  return serveWhole(ports, req, res, ctx);
}

/** A JSON-RPC POST: read and inspect the whole body, then policy per call, failing closed. */
async function serveMcpPost(
  ports: PipelinePorts,
  req: IncomingMessage,
  res: ServerResponse,
  ctx: CallerRequest,
): Promise<void> {
  const answer = (a: Answer) => sendAnswer(req, res, a, ports.startSignIn);
  const first = signInFirst(ctx);
  if (first) return answer(first);
  const { route } = ctx.match;
  const maxBytes = route.mcp?.kind === 'server' ? route.mcp.maxRequestBytes : null;
  const read = await readCalls(req, maxBytes ?? DEFAULT_MAX_REQUEST_BYTES);
  if (!read.ok) return answer(read.answer);
  const { calls } = read.inspected;
  const verdict = decideCalls(ctx, read.inspected);
  calls.forEach((call, i) => logDecision(ports.logger, ctx, call, verdict.decisions[i]!));
  if (!verdict.allow) return answer(verdict.answer);
  await forwardWithCredentials(ports, req, res, ctx, {
    mcpPost: { body: read.body, jsonRpcErrorId: verdict.jsonRpcErrorId },
    transform: toolsListFilter(calls, verdict.decideCall, (issue) =>
      ports.logger.warn(logFields(ctx), issue),
    ),
  });
}

/** A request decided as a whole (plain routes; GET, HEAD, DELETE on MCP routes). */
async function serveWhole(
  ports: PipelinePorts,
  req: IncomingMessage,
  res: ServerResponse,
  ctx: CallerRequest,
): Promise<void> {
  const { decision, answer } = decideRequest(ctx);
  logDecision(ports.logger, ctx, null, decision);
  if (answer) return sendAnswer(req, res, answer, ports.startSignIn);
  await forwardWithCredentials(ports, req, res, ctx, {});
}

function logFields(ctx: RouteRequest) {
  return { req_id: ctx.requestId, route: routeName(ctx.match.route) };
}
