/**
 * Who calls the app-facing endpoints, and from which page. A client-mode token in
 * `Authorization` is the caller (any other token there is refused: what the client presented
 * wins, as on MCP routes); without one, the session cookie. The cookie is ambient, so a page
 * of another site must not use it: a state-changing request must come from an allowed page
 * (`AppOrigins`), and a read that names a foreign `Origin` is refused too. A token is not
 * ambient: whoever holds it is the app it was given to.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import type { RouteConfig } from '../config/types.js';
import { NOT_SIGNED_IN, NOT_SIGNED_IN_REASON } from '../core/not-signed-in.js';
import type { Headers } from '../core/respond.js';
import type { BearerOutcome } from '../oauth/server.js';
import type { SessionRecord } from '../storage/types.js';
import type { AppOrigins } from './origins.js';
import type { ForcedRefreshPort } from './routes-actions.js';
import type { UpstreamConnections } from './server-list.js';

/** What the app-facing endpoints are built with. */
export interface AppDeps {
  readonly routes: readonly RouteConfig[];
  readonly scheme: 'http' | 'https';
  readonly logger: Logger;
  authenticate(req: IncomingMessage): Promise<SessionRecord | undefined>;
  startSignIn(req: IncomingMessage, res: ServerResponse, returnTo: string): Promise<void>;
  /** The client-mode token of a request (absent: no OAuth server, so no such tokens). */
  clientBearer?(req: IncomingMessage): Promise<BearerOutcome>;
  /** The upstream-token part (absent: no route holds upstream tokens). */
  readonly upstream?: AppUpstream;
}

/** What the endpoints ask of `UpstreamService`. */
export interface AppUpstream extends UpstreamConnections, ForcedRefreshPort {
  connectFirst(
    session: SessionRecord,
    resource: string,
    back: { readonly returnTo: string; readonly errorParam: string },
  ): Promise<URL | undefined>;
}

/** A whole JSON answer. */
export interface Reply {
  readonly status: number;
  readonly body: unknown;
  readonly headers?: Headers;
  readonly statusMessage?: string;
}

export type AppCaller =
  | { readonly ok: true; readonly session: SessionRecord; readonly via: 'token' | 'cookie' }
  | { readonly ok: false; readonly reply: Reply };

export async function identifyAppCaller(
  deps: Pick<AppDeps, 'authenticate' | 'clientBearer'>,
  req: IncomingMessage,
  origins: AppOrigins,
): Promise<AppCaller> {
  if (req.headers.authorization !== undefined) {
    const bearer: BearerOutcome = deps.clientBearer
      ? await deps.clientBearer(req)
      : { kind: 'invalid' };
    if (bearer.kind === 'valid') return { ok: true, session: bearer.session, via: 'token' };
    return { ok: false, reply: invalidToken() };
  }
  const session = await deps.authenticate(req);
  if (!session) {
    const reply = { status: 401, body: NOT_SIGNED_IN, statusMessage: NOT_SIGNED_IN_REASON };
    return { ok: false, reply };
  }
  const { origin } = req.headers;
  const reads = req.method === 'GET' || req.method === 'HEAD';
  const allowed = reads
    ? origin === undefined || origins.allowed(origin, req.headers.host)
    : origins.fromAllowedPage(req.headers);
  if (!allowed) {
    const body = { error: 'forbidden', error_description: 'Origin is not allowed' };
    return { ok: false, reply: { status: 403, body } };
  }
  return { ok: true, session, via: 'cookie' };
}

/** RFC 6750 §3.1. */
function invalidToken(): Reply {
  return {
    status: 401,
    body: {
      error: 'invalid_token',
      error_description:
        'the access token is invalid, expired or revoked, or not a client-mode token',
    },
    headers: { 'www-authenticate': 'Bearer error="invalid_token"' },
    statusMessage: NOT_SIGNED_IN_REASON,
  };
}

/**
 * CORS for an allowed page (Fetch §3.2.5): its origin, with credentials, since apps call with
 * the session cookie. Other origins get no grant, so their browser keeps the answer from them.
 */
export function appCorsHeaders(req: IncomingMessage, origins: AppOrigins): Headers {
  const { origin } = req.headers;
  if (origin === undefined || !origins.allowed(origin, req.headers.host)) return { vary: 'Origin' };
  return {
    'access-control-allow-origin': origin,
    'access-control-allow-credentials': 'true',
    vary: 'Origin',
  };
}
