/**
 * `GET /.pomerium/mcp/connect?redirect_url=…[&route=…]` on an MCP server's host (REFERENCE §2):
 * an app sends the user here to connect the server's upstream service, and gets them back at
 * `redirect_url`: straight away when they are connected already (or the server needs no
 * upstream token), else through the provider's consent; a failure comes back as
 * `connect_error=…`. In order:
 *   1. the host serves MCP servers (else 404);
 *   2. `redirect_url` is safe (`redirect-url.ts`), else 400 and never a redirect;
 *   3. which server: `route=<its URL>` when the host has several, else its one;
 *   4. signed in (else to sign-in and back here);
 *   5. allowed by the server's policy (else back with `connect_error`);
 *   6. connected, or to the provider with `redirect_url` as where the callback ends.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { acceptsHtml, listedMediaTypes } from '../core/media-type.js';
import { sendOAuthError } from '../core/respond.js';
import { renderError } from '../web/error-page.js';
import { sendPage } from '../web/respond.js';
import { accessibleServers, type McpServerRoute } from './accessible.js';
import type { AppDeps } from './caller.js';
import type { AppOrigins } from './origins.js';
import { checkRedirectUrl } from './redirect-url.js';

export const CONNECT_PATH = '/.pomerium/mcp/connect';
export const CONNECT_ERROR_PARAM = 'connect_error';

export interface ConnectContext {
  readonly deps: AppDeps;
  readonly origins: AppOrigins;
  readonly servers: readonly McpServerRoute[];
}

type ServerChoice =
  | { readonly ok: true; readonly server: McpServerRoute }
  | { readonly ok: false; readonly reason: string };

/** The server a connect names: `route` when given (on this host only), else the host's one. */
export function chooseServer(
  onHost: readonly McpServerRoute[],
  route: string | null,
): ServerChoice {
  if (route !== null) {
    const server = onHost.find((s) => s.mcp.resourceUrl === route);
    return server
      ? { ok: true, server }
      : { ok: false, reason: 'route is not an MCP server of this host' };
  }
  if (onHost.length === 1) return { ok: true, server: onHost[0]! };
  return {
    ok: false,
    reason: 'this host serves several MCP servers: name one with route=<its URL>',
  };
}

export function connectEndpoint(ctx: ConnectContext) {
  const { deps, origins, servers } = ctx;
  return async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    if (req.method !== 'GET') {
      res.writeHead(405, { allow: 'GET', 'content-length': 0 }).end();
      return;
    }
    const host = origins.hostOf(req.headers.host);
    const onHost = servers.filter((s) => new URL(s.route.from).host === host);
    if (host === undefined || onHost.length === 0) {
      return refuse(req, res, 404, 'no MCP server is served on this host');
    }
    const params = new URL(req.url ?? '/', 'http://connect.invalid').searchParams;
    const back = checkRedirectUrl(
      params.get('redirect_url'),
      new Set([host, ...origins.clientHosts]),
    );
    if (!back.ok) return refuse(req, res, 400, back.reason);
    const choice = chooseServer(onHost, params.get('route'));
    if (!choice.ok) return refuse(req, res, 400, choice.reason);
    const session = await deps.authenticate(req);
    if (!session) return deps.startSignIn(req, res, req.url ?? CONNECT_PATH);
    const { mcp } = choice.server;
    if (accessibleServers([choice.server], session).length === 0) {
      back.url.searchParams.set(CONNECT_ERROR_PARAM, 'access to this server is denied by policy');
      return redirect(res, back.url.href);
    }
    const provider = await deps.upstream?.connectFirst(session, mcp.resourceUrl, {
      returnTo: back.url.href,
      errorParam: CONNECT_ERROR_PARAM,
    });
    if (provider === undefined) return redirect(res, back.url.href);
    deps.logger.info({ sub: session.sub, route: mcp.resourceUrl }, 'connect: to the provider');
    redirect(res, provider.href);
  };
}

function redirect(res: ServerResponse, location: string): void {
  res.writeHead(302, { location, 'cache-control': 'no-store', 'content-length': 0 }).end();
}

/** A refusal in the asker's terms: JSON for a client that asks for it, else a page. */
function refuse(req: IncomingMessage, res: ServerResponse, status: number, reason: string): void {
  const { accept } = req.headers;
  if (listedMediaTypes(accept).includes('application/json') && !acceptsHtml(accept)) {
    const error = status === 404 ? 'not_found' : 'invalid_request';
    return sendOAuthError(res, status, { error, error_description: reason });
  }
  sendPage(res, status, renderError({ title: 'Cannot connect', message: reason }));
}
