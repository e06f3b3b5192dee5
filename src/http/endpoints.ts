/** The gateway's own endpoints (Pomerium's paths) and the portal, as dispatch-table handlers. */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { appEndpoints } from '../apps/endpoints.js';
import { createJwksHandler, JWKS_PATH } from '../assertion/jwks-handler.js';
import type { Config } from '../config/types.js';
import { sendJson } from '../core/respond.js';
import { renderPortal } from '../web/portal-page.js';
import { sendPage } from '../web/respond.js';
import { CALLBACK_PATH, LEGACY_CALLBACK_PATH } from '../upstream/catalog.js';
import { upstreamCallbackEndpoint } from '../upstream/callback-endpoint.js';
import { clientMetadataEndpoint } from '../upstream/client-metadata-endpoint.js';
import { handoffEndpoints } from '../session/handoff.js';
import { CLIENT_METADATA_PATH } from '../upstream/discovery.js';
import type { GatewayParts } from './parts.js';

export type Handler = (req: IncomingMessage, res: ServerResponse) => Promise<void>;

/** Served ahead of any route, by exact path. */
export function ownEndpoints(parts: GatewayParts): ReadonlyMap<string, Handler> {
  const { storage, logger, upstream, mcpAuth } = parts;
  const { sessions } = parts.signIn;
  const callback: [string, Handler][] = upstream
    ? [CALLBACK_PATH, LEGACY_CALLBACK_PATH].map((path) => [
        path,
        upstreamCallbackEndpoint({
          service: upstream,
          authenticate: (req) => sessions.authenticate(req),
          scheme: parts.scheme,
          logger,
        }),
      ])
    : [];
  if (upstream) callback.push([CLIENT_METADATA_PATH, clientMetadataEndpoint(parts.scheme)]);
  const apps = appEndpoints({
    routes: parts.config.routes,
    scheme: parts.scheme,
    logger,
    authenticate: (req) => sessions.authenticate(req),
    startSignIn: (req, res, returnTo) => sessions.startSignIn(req, res, returnTo),
    ...(mcpAuth ? { clientBearer: (req) => mcpAuth.authenticateClientToken(req) } : {}),
    ...(upstream ? { upstream } : {}),
  });
  return new Map<string, Handler>([
    ...callback,
    ...apps,
    // Sign-in across hosts; absent when every route is on the authenticate host.
    ...(sessions.handoff ? handoffEndpoints(sessions.handoff) : []),
    ['/oauth2/callback', (req, res) => sessions.handleCallback(req, res)],
    ['/.pomerium/sign_out', (req, res) => sessions.signOut(req, res)],
    ['/.pomerium/user', (req, res) => sessions.userInfo(req, res)],
    [
      JWKS_PATH,
      createJwksHandler(parts.signer, {
        onError: (err) => logger.error({ err }, 'jwks: could not list keys'),
      }),
    ],
    [
      '/healthz',
      async (_req, res) => {
        try {
          await storage.ping();
          sendJson(res, 200, { status: 'ok' });
        } catch (err) {
          logger.error({ err }, 'health check: storage unreachable');
          sendJson(res, 503, { status: 'unavailable', reason: 'storage unreachable' });
        }
      },
    ],
    ['/readyz', async (_req, res) => sendJson(res, 200, { status: 'ready' })],
  ]);
}

/** `/`: the signed-in user's MCP servers; a visitor is sent to sign in first. */
export function portal(parts: GatewayParts): Handler {
  const { sessions } = parts.signIn;
  const servers = mcpServerList(parts.config);
  return async (req, res) => {
    const session = await sessions.authenticate(req);
    if (!session) return sessions.startSignIn(req, res, '/');
    return sendPage(res, 200, renderPortal({ user: session, servers }));
  };
}

/** The MCP servers the portal lists. */
function mcpServerList(config: Config) {
  return config.routes.flatMap((r) =>
    r.mcp?.kind === 'server'
      ? [{ name: r.name ?? r.mcp.resourceUrl, description: r.description, url: r.mcp.resourceUrl }]
      : [],
  );
}
