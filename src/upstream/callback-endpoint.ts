/**
 * `GET /.pomerium/mcp/client/oauth/callback` (and the older `/.pomerium/mcp/oauth/callback`):
 * where upstream providers send the browser back. The code is redeemed and the token stored,
 * then the browser goes on where the authorization started (the MCP client's authorization,
 * `connect`, the portal); a failure goes there too, in that place's error parameter, and a
 * callback that belongs to no live authorization gets a page and nothing else.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import type { SessionRecord } from '../storage/types.js';
import { renderError } from '../web/error-page.js';
import { sendPage } from '../web/respond.js';
import type { UpstreamService } from './service.js';

export interface CallbackDeps {
  readonly service: UpstreamService;
  readonly authenticate: (req: IncomingMessage) => Promise<SessionRecord | undefined>;
  readonly scheme: 'http' | 'https';
  readonly logger: Logger;
}

export function upstreamCallbackEndpoint(deps: CallbackDeps) {
  return async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    if (req.method !== 'GET') {
      res.writeHead(405, { allow: 'GET', 'content-length': 0 }).end();
      return;
    }
    const url = new URL(req.url ?? '/', `${deps.scheme}://${req.headers.host ?? 'localhost'}`);
    const session = await deps.authenticate(req);
    const outcome = await deps.service.complete(url, session);
    if (outcome.ok) {
      deps.logger.info(
        { sub: session?.sub, route: outcome.entry.routeKey },
        'upstream service connected',
      );
      return redirect(res, outcome.returnTo);
    }
    deps.logger.info(
      { sub: session?.sub, route: outcome.entry?.routeKey, error: outcome.error },
      `upstream authorization failed: ${outcome.description}`,
    );
    if (outcome.returnTo !== undefined && outcome.errorParam !== undefined) {
      const back = new URL(outcome.returnTo, url);
      back.searchParams.set(outcome.errorParam, outcome.description);
      // Same origin: a path is enough; another (checked) origin keeps its full URL.
      return redirect(res, back.origin === url.origin ? back.pathname + back.search : back.href);
    }
    sendPage(
      res,
      400,
      renderError({
        title: 'Connection failed',
        message: `This connection could not be completed: ${outcome.description}. Start again from your MCP client or the portal.`,
      }),
    );
  };
}

function redirect(res: ServerResponse, location: string): void {
  res.writeHead(303, { location, 'cache-control': 'no-store', 'content-length': 0 }).end();
}
