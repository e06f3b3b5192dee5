/**
 * A request that matched a route, top to bottom. On an `mcp.server` route:
 *   0. methods     CORS preflight first (before any auth), then only the transport's methods
 *   1. identify    bearer token, else session cookie (Origin rules)        identify.ts
 *   2. read body   the whole body, inspected into JSON-RPC calls            read-body.ts
 *   3. decide      policy per call, fail-closed, batches whole              decide.ts
 *                  (each denial gets its audit line here, each tool call    audit.ts
 *                  one after the upstream answered)
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
import { audit, isToolCall } from './audit.js';
import {
  callerRequest,
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
import { decisionMade, requestDone } from './observed.js';
import { toolsListFilter } from './tools-list-transform.js';
import type { McpCall } from '../inspect.js';

export async function serveRoute(
  ports: PipelinePorts,
  req: IncomingMessage,
  res: ServerResponse,
  match: RouteMatch,
  requestId: string,
  path: string,
): Promise<void> {
  const span = ports.tracer?.start(req, res, routeName(match.route));
  const request = routeRequest(req, match, requestId, path, span);
  let calls: readonly McpCall[] | undefined;
  try {
    if (match.route.mcp?.kind === 'server') calls = await serveMcpRoute(ports, req, res, request);
    else await serveWhole(ports, req, res, callerRequest(request, await ports.authenticate(req)));
  } catch (err) {
    // The dispatcher answers it (503 while storage is down, else 500): counted once answered.
    res.once('close', () =>
      ports.observer?.requestDone(
        requestDone(request, calls, res.headersSent ? res.statusCode : 0),
      ),
    );
    throw err;
  }
  ports.observer?.requestDone(requestDone(request, calls, res.statusCode));
}

async function serveMcpRoute(
  ports: PipelinePorts,
  req: IncomingMessage,
  res: ServerResponse,
  request: RouteRequest,
): Promise<readonly McpCall[] | undefined> {
  const early = methodAnswer(request.method, req.headers, request.origin);
  if (early) return void (await sendAnswer(req, res, early, ports.startSignIn));
  const caller = await identifyCaller(ports, req, request.match.route);
  if (!caller.ok) {
    if (caller.note) ports.logger.info(logFields(request), caller.note);
    return void (await sendAnswer(req, res, caller.answer, ports.startSignIn));
  }
  for (const name in caller.responseHeaders) res.setHeader(name, caller.responseHeaders[name]!);
  const ctx = callerRequest(request, caller.session, caller.grantId, caller.client);
  if (ctx.method === 'POST') return serveMcpPost(ports, req, res, ctx);
  return serveWhole(ports, req, res, ctx).then(NO_CALLS);
}

const NO_CALLS = () => undefined;

/**
 * A JSON-RPC POST: read and inspect the whole body, then policy per call, failing closed.
 * Returns the calls once read (for the observer).
 */
async function serveMcpPost(
  ports: PipelinePorts,
  req: IncomingMessage,
  res: ServerResponse,
  ctx: CallerRequest,
): Promise<readonly McpCall[] | undefined> {
  const answer = (a: Answer) => sendAnswer(req, res, a, ports.startSignIn);
  const first = signInFirst(ctx);
  if (first) return void (await answer(first));
  const { route } = ctx.match;
  const maxBytes = route.mcp?.kind === 'server' ? route.mcp.maxRequestBytes : null;
  const read = await readCalls(req, maxBytes ?? DEFAULT_MAX_REQUEST_BYTES);
  if (!read.ok) return void (await answer(read.answer));
  const { calls } = read.inspected;
  const verdict = decideCalls(ctx, read.inspected);
  const { decisions } = verdict;
  if (ports.observer) decisions.forEach((d) => ports.observer!.decision(decisionMade(ctx, d)));
  ctx.span?.decided(verdict.allow, decisions, calls);
  if (!verdict.allow) {
    const at = performance.now();
    calls.forEach((call, i) => {
      const decision = decisions[i]!;
      if (!decision.allow) audit(ports.logger, ctx, { call, decision, forwarded: undefined, at });
    });
    await answer(verdict.answer);
    return calls;
  }
  const forwarded = await forwardWithCredentials(ports, req, res, ctx, {
    mcpPost: { body: read.body, jsonRpcErrorId: verdict.jsonRpcErrorId },
    transform: toolsListFilter(calls, verdict.decideCall, (issue) =>
      ports.logger.warn(logFields(ctx), issue),
    ),
  });
  const at = performance.now();
  calls.forEach((call, i) => {
    if (isToolCall(call))
      audit(ports.logger, ctx, { call, decision: decisions[i]!, forwarded, at });
  });
  return calls;
}

/**
 * A request decided as a whole (plain routes; GET, HEAD, DELETE on MCP routes). Its forward is
 * returned, not awaited, here and by the callers up to `serveRoute`: a GET on an MCP route is
 * a stream that may stay open for hours, and every frame suspended on it is held as long (a
 * generator, its registers and a promise each; docs/performance.md, "Per stream").
 */
async function serveWhole(
  ports: PipelinePorts,
  req: IncomingMessage,
  res: ServerResponse,
  ctx: CallerRequest,
): Promise<unknown> {
  const { decision, answer } = decideRequest(ctx);
  ports.observer?.decision(decisionMade(ctx, decision));
  ctx.span?.decided(decision.allow, [decision]);
  if (answer) {
    audit(ports.logger, ctx, { call: null, decision, forwarded: undefined, at: performance.now() });
    return sendAnswer(req, res, answer, ports.startSignIn);
  }
  return forwardWithCredentials(ports, req, res, ctx, {});
}

function logFields(ctx: RouteRequest) {
  return { req_id: ctx.requestId, route: routeName(ctx.match.route) };
}
