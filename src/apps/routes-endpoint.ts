/**
 * `GET /.pomerium/mcp/routes`, `POST /.pomerium/mcp/routes/refresh` and
 * `POST /.pomerium/mcp/routes/disconnect` (REFERENCE §2, §10), on every host: the user's MCP
 * servers and their upstream connections, for apps behind `mcp.client` routes (with their
 * client-mode token or the session cookie) and the gateway's own pages. Each is: the CORS
 * preflight, the method, the caller (`caller.ts`), then the work, answered as JSON with CORS
 * for allowed pages.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { readBody } from '../core/body.js';
import { sendJson } from '../core/respond.js';
import type { SessionRecord } from '../storage/types.js';
import type { McpServerRoute } from './accessible.js';
import { appCorsHeaders, identifyAppCaller, type AppDeps, type Reply } from './caller.js';
import type { AppOrigins } from './origins.js';
import { disconnectRoutes, parseRoutesRequest, refreshRoutes } from './routes-actions.js';
import { serverList } from './server-list.js';

export const ROUTES_PATH = '/.pomerium/mcp/routes';
export const REFRESH_PATH = '/.pomerium/mcp/routes/refresh';
export const DISCONNECT_PATH = '/.pomerium/mcp/routes/disconnect';

type Handler = (req: IncomingMessage, res: ServerResponse) => Promise<void>;

/** A body of routes to act on is small; anything larger is not one. */
const MAX_BODY_BYTES = 16 * 1024;

export interface RoutesContext {
  readonly deps: AppDeps;
  readonly origins: AppOrigins;
  readonly servers: readonly McpServerRoute[];
}

export function routesEndpoints(ctx: RoutesContext): readonly (readonly [string, Handler])[] {
  const { deps, servers } = ctx;
  const list = async (session: SessionRecord) => ({
    servers: await serverList(servers, deps.upstream, session),
  });
  return [
    [ROUTES_PATH, endpoint(ctx, 'GET', async (_req, session) => ok(await list(session)))],
    [
      REFRESH_PATH,
      endpoint(ctx, 'POST', (req, session) =>
        withRoutes(req, async (urls) => {
          const errors = await refreshRoutes(deps.upstream, servers, session, urls);
          deps.logger.info({ sub: session.sub, routes: urls }, 'upstream tokens refreshed');
          return ok({ ...(await list(session)), errors });
        }),
      ),
    ],
    [
      DISCONNECT_PATH,
      endpoint(ctx, 'POST', (req, session) =>
        withRoutes(req, async (urls) => {
          const errors = await disconnectRoutes(deps.upstream, servers, session, urls);
          deps.logger.info({ sub: session.sub, routes: urls }, 'upstream services disconnected');
          return ok({ ...(await list(session)), errors });
        }),
      ),
    ],
  ];
}

type Work = (req: IncomingMessage, session: SessionRecord) => Promise<Reply | 'hang-up'>;

function endpoint(ctx: RoutesContext, method: 'GET' | 'POST', work: Work): Handler {
  const allow = `${method}, OPTIONS`;
  return async (req, res) => {
    const cors = appCorsHeaders(req, ctx.origins);
    if (req.method === 'OPTIONS') return preflight(req, res, cors, allow);
    if (req.method !== method) {
      const error_description = `${ROUTES_PATH} endpoints answer ${method}`;
      const body = { error: 'invalid_request', error_description };
      return sendJson(res, 405, body, { ...cors, allow });
    }
    const caller = await identifyAppCaller(ctx.deps, req, ctx.origins);
    const reply = caller.ok ? await work(req, caller.session) : caller.reply;
    if (reply === 'hang-up') return void res.destroy();
    sendJson(res, reply.status, reply.body, { ...cors, ...reply.headers }, reply.statusMessage);
  };
}

/** Fetch §3.2.2: only an allowed page is told it may send the request. */
function preflight(
  req: IncomingMessage,
  res: ServerResponse,
  cors: Readonly<Record<string, string>>,
  allow: string,
): void {
  if (cors['access-control-allow-origin'] === undefined) {
    const body = { error: 'forbidden', error_description: 'Origin is not allowed' };
    return sendJson(res, 403, body, cors);
  }
  res.writeHead(204, {
    ...cors,
    'access-control-allow-methods': allow,
    'access-control-allow-headers':
      req.headers['access-control-request-headers'] ?? 'authorization, content-type',
    'access-control-max-age': '3600',
  });
  res.end();
}

async function withRoutes(
  req: IncomingMessage,
  act: (urls: readonly string[]) => Promise<Reply>,
): Promise<Reply | 'hang-up'> {
  const read = await readBody(req, MAX_BODY_BYTES);
  if (!read.ok && read.reason === 'aborted') return 'hang-up';
  if (!read.ok) {
    const body = { error: 'invalid_request', error_description: 'the body is too large' };
    // The rest of the body stays unread: the connection cannot be reused.
    return { status: 413, body, headers: { connection: 'close' } };
  }
  const parsed = parseRoutesRequest(read.body, req.headers['content-type']);
  if (!parsed.ok) {
    return {
      status: 400,
      body: { error: 'invalid_request', error_description: parsed.description },
    };
  }
  return act(parsed.urls);
}

function ok(body: unknown): Reply {
  return { status: 200, body };
}
