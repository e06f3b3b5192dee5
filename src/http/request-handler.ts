import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import type { Config } from '../config/types.js';
import { clientHungUp } from '../core/hang-up.js';
import { bodyTimedOut } from '../core/body-deadline.js';
import type { AssertionSigner } from '../assertion/sign.js';
import { createJwksHandler, JWKS_PATH } from '../assertion/jwks-handler.js';
import type { McpAuthServer } from '../oauth/server.js';
import type { Forwarder } from '../proxy/forward.js';
import { compileRoutes } from '../proxy/match.js';
import { claimHeaderNames } from '../proxy/identity-headers.js';
import type { Storage } from '../storage/types.js';
import { renderPortal } from '../web/portal-page.js';
import { sendPage } from '../web/respond.js';
import { createAssertionSource } from './identity.js';
import { requestIdOf, requestPath, settleRequestTarget } from './request-target.js';
import { sendJson } from './respond.js';
import { handleRoute, type RouteHandlerDeps } from './route-handler.js';
import type { SignIn } from './sign-in.js';

type Handler = (req: IncomingMessage, res: ServerResponse) => Promise<void>;

/** Everything built behind the listener that requests are served from. */
export interface GatewayParts {
  readonly config: Config;
  readonly logger: Logger;
  readonly scheme: 'http' | 'https';
  readonly storage: Storage;
  readonly signer: AssertionSigner;
  readonly signIn: SignIn;
  readonly forwarder: Forwarder;
  readonly trustedProxy: (address: string) => boolean;
  readonly mcpAuth: McpAuthServer | undefined;
}

/**
 * The listener's handler: tags each request with an id, dispatches it (the built-in provider,
 * the gateway's own endpoints, the MCP OAuth server, routes, the portal), and turns an unhandled
 * error into a bare 500 with the detail in the log.
 */
export function createRequestHandler(
  parts: GatewayParts,
): (req: IncomingMessage, res: ServerResponse) => void {
  const serve = dispatcher(parts);
  return (req, res) => {
    const requestId = requestIdOf(req);
    res.setHeader('x-request-id', requestId);
    serve(req, res, requestId).catch((err: unknown) => {
      // Answered 408 already: the body reader failing afterwards is expected, not a bug.
      if (bodyTimedOut(req)) return parts.logger.debug({ req_id: requestId }, 'body timed out');
      if (clientHungUp(req)) {
        parts.logger.debug(
          { req_id: requestId, err: (err as Error).message },
          'client closed the connection before its request was read',
        );
        res.destroy();
        return;
      }
      parts.logger.error({ err, req_id: requestId }, 'unhandled error while answering a request');
      if (!res.headersSent) sendJson(res, 500, { error: 'server_error' });
      else res.destroy();
    });
  };
}

function dispatcher(parts: GatewayParts) {
  const { config, scheme, mcpAuth } = parts;
  const { idp, sessions } = parts.signIn;
  const matcher = compileRoutes(config.routes);
  const own = ownEndpoints(parts);
  const deps = routeDeps(parts);
  const mcpServers = mcpServerList(config);
  return async (req: IncomingMessage, res: ServerResponse, requestId: string) => {
    const refused = settleRequestTarget(req, scheme);
    if (refused !== undefined) {
      sendJson(res, 400, { error: 'invalid_request', error_description: refused });
      return;
    }
    const path = requestPath(req.url);
    if (path === undefined) {
      sendJson(res, 400, { error: 'invalid_request', error_description: 'malformed request path' });
      return;
    }
    if (idp && (path === idp.pathPrefix || path.startsWith(`${idp.pathPrefix}/`))) {
      return idp.handle(req, res);
    }
    const endpoint = own[path];
    if (endpoint) return endpoint(req, res);
    const match = matcher.match({ host: req.headers.host ?? '', path }, scheme);
    const oauth = mcpAuth?.endpoint(req, path, match);
    if (oauth) return oauth(req, res);
    if (match) return handleRoute(deps, req, res, match, requestId, path);
    if (path === '/' && (req.method === 'GET' || req.method === 'HEAD')) {
      const session = await sessions.authenticate(req);
      if (!session) return sessions.startSignIn(req, res, '/');
      return sendPage(res, 200, renderPortal({ user: session, servers: mcpServers }));
    }
    sendJson(res, 404, { error: 'not_found', error_description: 'no route matches this request' });
  };
}

function routeDeps(parts: GatewayParts): RouteHandlerDeps {
  const { config, signer, mcpAuth } = parts;
  const { sessions } = parts.signIn;
  return {
    forwarder: parts.forwarder,
    logger: parts.logger,
    scheme: parts.scheme,
    trustedProxy: parts.trustedProxy,
    authenticate: (req) => sessions.authenticate(req),
    startSignIn: (req, res, returnTo) => sessions.startSignIn(req, res, returnTo),
    assertionFor: createAssertionSource(signer, config),
    claimsHeaders: config.jwtClaimsHeaders,
    claimHeaderNames: claimHeaderNames(config.jwtClaimsHeaders),
    ...(mcpAuth ? { bearer: (req, route) => mcpAuth.authenticateBearer(req, route) } : {}),
  };
}

/** The gateway's own endpoints (Pomerium's paths), served ahead of any route. */
function ownEndpoints(parts: GatewayParts): Record<string, Handler> {
  const { storage, logger } = parts;
  const { sessions } = parts.signIn;
  return {
    '/oauth2/callback': (req, res) => sessions.handleCallback(req, res),
    '/.pomerium/sign_out': (req, res) => sessions.signOut(req, res),
    '/.pomerium/user': (req, res) => sessions.userInfo(req, res),
    [JWKS_PATH]: createJwksHandler(parts.signer, {
      onError: (err) => logger.error({ err }, 'jwks: could not list keys'),
    }),
    '/healthz': async (_req, res) => {
      try {
        await storage.ping();
        sendJson(res, 200, { status: 'ok' });
      } catch (err) {
        logger.error({ err }, 'health check: storage unreachable');
        sendJson(res, 503, { status: 'unavailable', reason: 'storage unreachable' });
      }
    },
    '/readyz': async (_req, res) => sendJson(res, 200, { status: 'ready' }),
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
