/**
 * The node:http adapter: one dispatch table, asked in order, each entry looked up once per
 * request (a lookup reads the path, the host and the matched route, and does no I/O):
 *   built-in provider → own endpoints → OAuth endpoints → routes → portal → 404.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { bodyTimedOut } from '../core/body-deadline.js';
import { clientHungUp } from '../core/hang-up.js';
import { sendJson, sendOAuthError } from '../core/respond.js';
import type { PipelinePorts } from '../mcp/pipeline/context.js';
import { serveRoute } from '../mcp/pipeline/serve.js';
import { claimHeaderNames } from '../proxy/identity-headers.js';
import { isStorageUnavailable } from '../storage/errors.js';
import { compileRoutes, type RouteMatch } from '../proxy/match.js';
import { createAssertionSource } from './identity.js';
import { ownEndpoints, portal, type Handler } from './endpoints.js';
import type { GatewayParts } from './parts.js';
import { requestIdOf, requestPath, settleRequestTarget } from './request-target.js';
import { tagResponse } from './tagged-response.js';
import { sendStorageUnavailable, type AnswerShape } from './unavailable.js';

export type { GatewayParts } from './parts.js';

/** What a lookup sees of the request. */
interface Target {
  readonly path: string;
  readonly match: RouteMatch | undefined;
  readonly requestId: string;
}

/** One entry of the table: this request's handler, or undefined when it is not the entry's. */
type Lookup = (req: IncomingMessage, target: Target) => Handler | undefined;

/** An entry, and the shape of an error answer for the requests it serves. */
interface Entry {
  readonly lookup: Lookup;
  readonly shape: (target: Target) => AnswerShape;
}

/** Which entry took the request, for the answer to an error it throws. */
interface Served {
  shape: AnswerShape;
}

/**
 * The listener's handler: tags each request with an id, dispatches it through the table, and
 * turns an unhandled error into a bare 500 with the detail in the log, or, when storage is
 * unreachable, a 503 with `Retry-After` in the shape of the entry that took the request.
 */
export function createRequestHandler(
  parts: GatewayParts,
): (req: IncomingMessage, res: ServerResponse) => void {
  const dispatch = dispatcher(parts);
  return (req, res) => {
    const requestId = requestIdOf(req);
    tagResponse(res, requestId);
    const served: Served = { shape: 'page' };
    dispatch(req, res, requestId, served).catch((err: unknown) =>
      unhandled(parts.logger, req, res, requestId, err, served.shape),
    );
  };
}

function unhandled(
  logger: Logger,
  req: IncomingMessage,
  res: ServerResponse,
  req_id: string,
  err: unknown,
  shape: AnswerShape,
): void {
  // Answered 408 already: the body reader failing afterwards is expected, not a bug.
  if (bodyTimedOut(req)) return logger.debug({ req_id }, 'body timed out');
  if (clientHungUp(req)) {
    const message = (err as Error).message;
    logger.debug(
      { req_id, err: message },
      'client closed the connection before its request was read',
    );
    res.destroy();
    return;
  }
  if (isStorageUnavailable(err)) {
    logger.warn({ err: (err as Error).message, req_id }, 'storage unavailable: answered 503');
    return sendStorageUnavailable(req, res, shape);
  }
  logger.error({ err, req_id }, 'unhandled error while answering a request');
  sendOAuthError(res, 500, { error: 'server_error' });
}

function dispatcher(parts: GatewayParts) {
  const { config, scheme } = parts;
  const matcher = compileRoutes(config.routes);
  const table = dispatchTable(parts);
  return async (req: IncomingMessage, res: ServerResponse, requestId: string, served: Served) => {
    const refused = settleRequestTarget(req, scheme);
    if (refused !== undefined) {
      return sendOAuthError(res, 400, { error: 'invalid_request', error_description: refused });
    }
    const path = requestPath(req.url);
    if (path === undefined) {
      const error_description = 'malformed request path';
      return sendOAuthError(res, 400, { error: 'invalid_request', error_description });
    }
    const match = matcher.match({ host: req.headers.host ?? '', path }, scheme);
    const target: Target = { path, match, requestId };
    for (const { lookup, shape } of table) {
      const handler = lookup(req, target);
      if (handler === undefined) continue;
      served.shape = shape(target);
      return handler(req, res);
    }
    sendJson(res, 404, { error: 'not_found', error_description: 'no route matches this request' });
  };
}

/** The table, in the order it is asked. */
function dispatchTable(parts: GatewayParts): readonly Entry[] {
  const { idp } = parts.signIn;
  const own = ownEndpoints(parts);
  const ports = pipelinePorts(parts);
  const { mcpAuth } = parts;
  const servePortal = portal(parts);
  const oauth = () => 'oauth' as const;
  const page = () => 'page' as const;
  return [
    {
      lookup: (_req, { path }) =>
        idp && (path === idp.pathPrefix || path.startsWith(`${idp.pathPrefix}/`))
          ? (req, res) => idp.handle(req, res)
          : undefined,
      // Sign-in pages mostly; its token endpoint's callers do not ask for HTML.
      shape: page,
    },
    { lookup: (_req, { path }) => own.get(path), shape: page },
    { lookup: (req, { path, match }) => mcpAuth?.endpoint(req, path, match), shape: oauth },
    {
      lookup: (_req, { match, requestId, path }) =>
        match ? (req, res) => serveRoute(ports, req, res, match, requestId, path) : undefined,
      shape: ({ match }) => (match?.route.mcp?.kind === 'server' ? 'mcp' : 'page'),
    },
    {
      lookup: (req, { path }) =>
        path === '/' && (req.method === 'GET' || req.method === 'HEAD') ? servePortal : undefined,
      shape: page,
    },
  ];
}

function pipelinePorts(parts: GatewayParts): PipelinePorts {
  const { config, signer, mcpAuth, upstream, clientTokens } = parts;
  const { sessions } = parts.signIn;
  return {
    forwarder: parts.forwarder,
    logger: parts.logger,
    scheme: parts.scheme,
    trustedProxy: parts.trustedProxy,
    authenticate: (req) => sessions.authenticate(req),
    startSignIn: (req, res, returnTo) => sessions.startSignIn(req, res, returnTo),
    assertionFor: createAssertionSource(signer, config, Date.now, parts.storage.invalidation),
    claimsHeaders: config.jwtClaimsHeaders,
    claimHeaderNames: claimHeaderNames(config.jwtClaimsHeaders),
    ...(mcpAuth
      ? {
          bearer: (req, route) => mcpAuth.authenticateBearer(req, route),
          revokeGrant: (grantId) => mcpAuth.revokeGrant(grantId),
        }
      : {}),
    ...(upstream ? { upstream } : {}),
    ...(clientTokens ? { clientToken: (session) => clientTokens.tokenFor(session) } : {}),
    ...(parts.observer ? { observer: parts.observer } : {}),
    ...(parts.tracer ? { tracer: parts.tracer } : {}),
  };
}
