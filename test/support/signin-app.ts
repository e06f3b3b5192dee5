/**
 * A tiny node:http app that mounts the sign-in handlers the way the gateway edge does:
 * `/oauth2/callback`, `/.pomerium/sign_out`, `/.pomerium/user`, `/.pomerium/idp/*`, and
 * every other path behind sign-in, answered with the portal page.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { BuiltinIdp } from '../../src/idp/provider.js';
import type { SessionManager } from '../../src/session/manager.js';
import { PORTAL_PAGE_OPTIONS, renderPortal, type PortalServer } from '../../src/web/portal-page.js';
import { sendPage } from '../../src/web/respond.js';

export interface SigninAppParts {
  readonly sessions: SessionManager;
  readonly idp?: BuiltinIdp;
  readonly servers?: readonly PortalServer[];
}

export interface SigninApp {
  readonly origin: string;
  readonly parts: SigninAppParts;
  close(): Promise<void>;
}

/** Starts the app on a loopback port; `build` gets the origin to compute the callback URL. */
export async function startSigninApp(
  build: (origin: string) => Promise<SigninAppParts> | SigninAppParts,
): Promise<SigninApp> {
  const mounted: { parts?: SigninAppParts } = {};
  const server = createServer((req, res) => {
    if (mounted.parts === undefined) return void res.writeHead(503).end();
    route(mounted.parts, req, res).catch((err: unknown) => {
      console.error(err);
      if (!res.headersSent) res.writeHead(500);
      res.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const parts = await build(origin);
  mounted.parts = parts;
  return {
    origin,
    parts,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

async function route(parts: SigninAppParts, req: IncomingMessage, res: ServerResponse) {
  const url = req.url ?? '/';
  const path = url.split('?')[0] ?? '/';
  const { sessions, idp } = parts;
  if (idp && (path === idp.pathPrefix || path.startsWith(`${idp.pathPrefix}/`))) {
    return idp.handle(req, res);
  }
  if (path === '/oauth2/callback') return sessions.handleCallback(req, res);
  if (path === '/.pomerium/sign_out') return sessions.signOut(req, res);
  if (path === '/.pomerium/user') return sessions.userInfo(req, res);
  if (path === '/favicon.ico') return void res.writeHead(404).end();
  const session = await sessions.authenticate(req);
  if (session === undefined) return sessions.startSignIn(req, res, url);
  sendPage(
    res,
    200,
    renderPortal({ user: session, servers: parts.servers ?? [] }),
    PORTAL_PAGE_OPTIONS,
  );
}
