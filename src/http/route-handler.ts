import type { IncomingMessage, ServerResponse } from 'node:http';
import { decideRoute } from '../policy/route-policy.js';
import type { RouteMatch } from '../proxy/match.js';
import { handleMcpRoute } from './mcp-route.js';
import {
  logDecision,
  policyInput,
  refuse,
  type RequestContext,
  type RouteHandlerDeps,
} from './route-context.js';
import { forward } from './upstream.js';

export type { RouteHandlerDeps } from './route-context.js';
export { DEFAULT_MAX_REQUEST_BYTES } from './mcp-route.js';

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
  if (match.route.mcp?.kind === 'server') {
    await handleMcpRoute(deps, req, res, match, requestId, path);
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
