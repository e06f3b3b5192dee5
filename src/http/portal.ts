/**
 * The portal (`src/web/portal-page.ts`) as the gateway serves it: at `/.pomerium/` on every
 * host, and at `/` where no route serves `/`, for signed-in users (others sign in and come
 * back). It shows what the app-facing endpoints show (`serverList`: the servers the user may
 * reach, with their upstream connections) and the MCP clients the user authorized
 * (`McpAuthServer.authorizedClients`); its two actions are `portal-actions.ts`.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { mcpServerRoutes } from '../apps/accessible.js';
import { CONNECT_ERROR_PARAM, CONNECT_PATH } from '../apps/connect-endpoint.js';
import { serverList, type ServerEntry } from '../apps/server-list.js';
import type { AuthorizedClient } from '../oauth/server.js';
import {
  PORTAL_PAGE_OPTIONS,
  renderPortal,
  type PortalClient,
  type PortalInput,
  type PortalServer,
} from '../web/portal-page.js';
import { sendPage } from '../web/respond.js';
import type { GatewayParts } from './parts.js';
import { noticeOf, PORTAL_PATH } from './portal-actions.js';

type Handler = (req: IncomingMessage, res: ServerResponse) => Promise<void>;

/** A failure reported back in `connect_error` is shown, cut to this length. */
const MAX_REPORTED = 300;

/** The page's handler (GET and HEAD). */
export function portalPage(parts: GatewayParts): Handler {
  const { sessions } = parts.signIn;
  const servers = mcpServerRoutes(parts.config.routes);
  const names = new Map(
    servers.map(({ route, mcp }) => [mcp.resourceUrl, route.name ?? mcp.resourceUrl]),
  );
  return async (req, res) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD', 'content-length': 0 }).end();
      return;
    }
    const session = await sessions.authenticate(req);
    if (!session) return sessions.startSignIn(req, res, req.url ?? PORTAL_PATH);
    const here = new URL(
      req.url ?? PORTAL_PATH,
      `${parts.scheme}://${req.headers.host ?? 'gateway.invalid'}`,
    );
    const [entries, clients] = await Promise.all([
      serverList(servers, parts.upstream, session),
      parts.mcpAuth?.authorizedClients(session.sub),
    ]);
    const input: PortalInput = {
      user: session,
      servers: entries.map((entry) => portalServer(entry, here)),
      ...(clients ? { clients: clients.map((c) => portalClient(c, names)) } : {}),
      ...messageOf(here.searchParams),
    };
    sendPage(res, 200, renderPortal(input), PORTAL_PAGE_OPTIONS);
  };
}

function portalServer(entry: ServerEntry, here: URL): PortalServer {
  const base = {
    name: entry.name,
    ...(entry.description ? { description: entry.description } : {}),
    url: entry.url,
  };
  if (!entry.needs_oauth) return base;
  return {
    ...base,
    upstream: {
      connected: entry.connected,
      ...(entry.token_expires_at ? { expiresAt: entry.token_expires_at } : {}),
      renews: entry.refresh_token_available,
      connectUrl: connectUrl(entry.url, here),
    },
  };
}

/**
 * The connect endpoint of the server's host, coming back to this page when it is on that host,
 * else to the portal there: `redirect_url` may name only the server's host or an app's
 * (`redirect-url.ts`).
 */
function connectUrl(serverUrl: string, here: URL): string {
  const server = new URL(serverUrl);
  const back = new URL(server.host === here.host ? here.pathname : PORTAL_PATH, server.origin);
  const url = new URL(CONNECT_PATH, server.origin);
  url.search = new URLSearchParams({ redirect_url: back.href, route: serverUrl }).toString();
  return url.href;
}

function portalClient(client: AuthorizedClient, names: ReadonlyMap<string, string>): PortalClient {
  return {
    key: client.key,
    name: client.name,
    host: client.host,
    servers: client.resources.map((r) => names.get(r) ?? r),
    authorizedAt: client.authorizedAt,
    lastUsedAt: client.lastUsedAt,
    active: client.active,
  };
}

/** What the page says on top: a failed connect, else the outcome of the last action. */
function messageOf(params: URLSearchParams): Pick<PortalInput, 'message'> {
  const failed = params.get(CONNECT_ERROR_PARAM);
  if (failed !== null) {
    const text = `Could not connect: ${failed.slice(0, MAX_REPORTED)}`;
    return { message: { kind: 'error', text } };
  }
  const notice = noticeOf(params.get('notice'));
  return notice ? { message: notice } : {};
}
