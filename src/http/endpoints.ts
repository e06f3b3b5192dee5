/** The gateway's own endpoints (Pomerium's paths) and the portal, as dispatch-table handlers. */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { appEndpoints } from '../apps/endpoints.js';
import { createJwksHandler, JWKS_PATH } from '../assertion/jwks-handler.js';
import { sendJson } from '../core/respond.js';
import { STORAGE_UNAVAILABLE_HEADERS, STORAGE_UNAVAILABLE_STATUS } from '../core/unavailable.js';
import { CALLBACK_PATH, LEGACY_CALLBACK_PATH } from '../upstream/catalog.js';
import { upstreamCallbackEndpoint } from '../upstream/callback-endpoint.js';
import { clientMetadataEndpoint } from '../upstream/client-metadata-endpoint.js';
import { handoffEndpoints } from '../session/handoff.js';
import { CLIENT_METADATA_PATH } from '../upstream/discovery.js';
import type { GatewayParts } from './parts.js';
import { portalPage } from './portal.js';
import { portalActions, PORTAL_PATH } from './portal-actions.js';

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
    [PORTAL_PATH, portalPage(parts)],
    ...portalActions(parts),
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
    // Liveness: the process answers. Nothing to restart for while the database is away.
    ['/healthz', async (_req, res) => sendJson(res, 200, { status: 'ok' })],
    // Readiness: every part is built (until then `readiness.ts` answers 503) and storage answers.
    [
      '/readyz',
      async (_req, res) => {
        try {
          await storage.ping();
          sendJson(res, 200, { status: 'ready' });
        } catch (err) {
          logger.warn({ err: (err as Error).message }, 'readiness: storage unreachable');
          const body = { status: 'unavailable', reason: 'storage unreachable' };
          sendJson(res, STORAGE_UNAVAILABLE_STATUS, body, STORAGE_UNAVAILABLE_HEADERS);
        }
      },
    ],
  ]);
}

/** `/` where no route serves it: the portal, as at `/.pomerium/`. */
export function portal(parts: GatewayParts): Handler {
  return portalPage(parts);
}
