/**
 * Step 1 of an `mcp.server` route: who is calling. The client's bearer token first (a valid
 * one is the identity; any other Authorization is 401 `invalid_token`), else the session
 * cookie, which a foreign `Origin` may not use (MCP 2025-11-25 "Transports": DNS rebinding).
 */
import type { IncomingMessage } from 'node:http';
import type { RouteConfig } from '../../config/types.js';
import type { Headers } from '../../core/respond.js';
import { isClientModeToken } from '../../oauth/client-mode.js';
import { NO_TOKEN, type BearerOutcome } from '../../oauth/authenticate-bearer.js';
import { fromUrl } from '../../proxy/route-urls.js';
import type { SessionRecord } from '../../storage/types.js';
import type { Answer } from './answer.js';
import type { McpClient, PipelinePorts } from './context.js';
import { corsHeaders, unauthorizedAnswer } from './cors.js';

export interface CallerFacts {
  readonly route: RouteConfig;
  readonly origin: string | undefined;
  readonly bearer: BearerOutcome;
  /** The session cookie's user (only asked when no bearer token was presented). */
  readonly session: SessionRecord | undefined;
}

const NO_HEADERS: Headers = Object.freeze({});

export type CallerOutcome =
  | {
      readonly ok: true;
      readonly session: SessionRecord | undefined;
      readonly grantId?: string;
      /** The MCP client whose bearer token made the call (absent: a session cookie or nobody). */
      readonly client?: McpClient;
      /** Set on every answer from here on (CORS for a browser client holding a token). */
      readonly responseHeaders: Headers;
    }
  /** Refused; `note` is for the log. */
  | { readonly ok: false; readonly answer: Answer; readonly note?: string };

/** The caller from what the request presented. Pure: the facts are read beforehand. */
export function judgeCaller(facts: CallerFacts): CallerOutcome {
  const { route, origin, bearer, session } = facts;
  if (bearer.kind === 'valid') {
    const responseHeaders = origin === undefined ? {} : corsHeaders(origin);
    const { session, clientId, clientName } = bearer;
    const client: McpClient = { id: clientId, name: clientName };
    // A client-mode token has no refresh token to fail: revoking its grant (credentials.ts)
    // would only take the app's token for every other server too.
    if (isClientModeToken(bearer)) return { ok: true, session, client, responseHeaders };
    return { ok: true, session, grantId: bearer.grantId, client, responseHeaders };
  }
  if (bearer.kind === 'invalid') {
    // RFC 6750 §3.1: the client learns its token is no good (and refreshes or re-authorizes).
    // A session cookie beside it does not rescue the request: what the client presented wins.
    const answer = unauthorizedAnswer(route, origin, 'invalid_token');
    return { ok: false, answer, note: 'bearer token refused' };
  }
  const foreign = origin !== undefined && origin !== fromUrl(route).origin;
  if (foreign && !session && !route.allowPublicUnauthenticatedAccess) {
    // Nothing ambient to abuse: a browser-based client discovers OAuth from this answer.
    return { ok: false, answer: unauthorizedAnswer(route, origin) };
  }
  if (foreign) {
    const body = { error: 'forbidden', error_description: 'Origin is not allowed' };
    return { ok: false, answer: { kind: 'json', status: 403, body } };
  }
  return { ok: true, session, responseHeaders: NO_HEADERS };
}

/** Reads the bearer outcome (and, without a token, the session) and judges them. */
export async function identifyCaller(
  ports: Pick<PipelinePorts, 'bearer' | 'authenticate' | 'observer'>,
  req: IncomingMessage,
  route: RouteConfig,
): Promise<CallerOutcome> {
  // No Authorization header: no bearer check at all (not even a promise: this is every
  // request a browser or a public client makes).
  const presented = ports.bearer !== undefined && req.headers.authorization !== undefined;
  const bearer: BearerOutcome = presented ? await ports.bearer!(req, route) : NO_TOKEN;
  if (presented) ports.observer?.tokenValidation(bearer.kind === 'valid' ? 'valid' : 'invalid');
  const session = bearer.kind === 'none' ? await ports.authenticate(req) : undefined;
  return judgeCaller({ route, origin: req.headers.origin, bearer, session });
}
