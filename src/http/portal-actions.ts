/**
 * The portal's two actions, form POSTs from the page itself: Disconnect (the user's upstream
 * token of one server, revoked at the provider when it can be, as `routes/disconnect` does) and
 * Revoke (an MCP client the user authorized: its consents forgotten, its grants revoked, its
 * tokens dead at once; `McpAuthServer.revokeClient`). Each is: POST only; from a page of the
 * host it was sent to (`sameOriginPost`, as sign-out: the session cookie is ambient, another
 * site's form must not use it); signed in; a small form; then 303 back to the portal with the
 * outcome as a fixed `notice` (never text from the request).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { mcpServerRoutes } from '../apps/accessible.js';
import { disconnectRoutes } from '../apps/routes-actions.js';
import { readForm } from '../oidc/form.js';
import { sameOriginPost } from '../session/sign-out.js';
import type { SessionRecord } from '../storage/types.js';
import { renderError } from '../web/error-page.js';
import { PORTAL_DISCONNECT_PATH, PORTAL_REVOKE_PATH } from '../web/portal-page.js';
import { sendPage } from '../web/respond.js';
import type { GatewayParts } from './parts.js';

type Handler = (req: IncomingMessage, res: ServerResponse) => Promise<void>;

export const PORTAL_PATH = '/.pomerium/';

const NOTICES = {
  disconnected: { kind: 'notice', text: 'Disconnected: the gateway no longer holds your token.' },
  'unknown-server': { kind: 'error', text: 'That is not an MCP server of this gateway.' },
  revoked: {
    kind: 'notice',
    text: 'Revoked: that client’s tokens no longer work, and it must ask you again.',
  },
  'unknown-client': { kind: 'error', text: 'That is no MCP client you authorized.' },
} as const;

type Notice = keyof typeof NOTICES;

/** The message of a `notice` parameter, when it is one of ours. */
export function noticeOf(value: string | null) {
  return value !== null && Object.hasOwn(NOTICES, value) ? NOTICES[value as Notice] : undefined;
}

/** A revoke names a client by its consent key: SHA-256, hex. */
const CLIENT_KEY = /^[0-9a-f]{64}$/;

export function portalActions(parts: GatewayParts): readonly (readonly [string, Handler])[] {
  const { logger, upstream, mcpAuth } = parts;
  const servers = mcpServerRoutes(parts.config.routes);
  return [
    [
      PORTAL_DISCONNECT_PATH,
      action(parts, async (form, session) => {
        const url = form.get('route') ?? '';
        const errors = await disconnectRoutes(upstream, servers, session, [url]);
        if (errors[url] !== undefined) return 'unknown-server';
        logger.info({ sub: session.sub, route: url }, 'portal: upstream service disconnected');
        return 'disconnected';
      }),
    ],
    [
      PORTAL_REVOKE_PATH,
      action(parts, async (form, session) => {
        const key = form.get('client') ?? '';
        if (mcpAuth === undefined || !CLIENT_KEY.test(key)) return 'unknown-client';
        return (await mcpAuth.revokeClient(session.sub, key)) ? 'revoked' : 'unknown-client';
      }),
    ],
  ];
}

type Work = (form: URLSearchParams, session: SessionRecord) => Promise<Notice>;

function action(parts: GatewayParts, work: Work): Handler {
  const { sessions } = parts.signIn;
  return async (req, res) => {
    if (req.method !== 'POST') {
      res.writeHead(405, { allow: 'POST', 'content-length': 0 }).end();
      return;
    }
    if (!sameOriginPost(req)) {
      parts.logger.warn(
        { path: req.url, origin: req.headers.origin, fetchSite: req.headers['sec-fetch-site'] },
        'portal action refused: not from a page of this host',
      );
      return refuse(res, 403, 'This action must come from the portal page of this gateway.');
    }
    const session = await sessions.authenticate(req);
    if (!session) return sessions.startSignIn(req, res, PORTAL_PATH);
    const form = await readForm(req, (err) =>
      refuse(res, err.status, 'The form could not be read.', err.headers),
    );
    if (form === undefined) return;
    const notice = await work(form, session);
    res.writeHead(303, {
      location: `${PORTAL_PATH}?notice=${notice}`,
      'cache-control': 'no-store',
    });
    res.end();
  };
}

function refuse(res: ServerResponse, status: number, message: string, headers = {}): void {
  sendPage(res, status, renderError({ title: 'Not done', message, retryHref: PORTAL_PATH }), {
    headers,
  });
}
