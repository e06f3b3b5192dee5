import {
  createServer as createHttpServer,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import type { Config, RouteConfig } from '../config/types.js';
import { ConfigError } from '../core/errors.js';
import { randomId, sha256Hex } from '../core/crypto.js';
import { AssertionSigner } from '../assertion/sign.js';
import { createJwksHandler, JWKS_PATH } from '../assertion/jwks-handler.js';
import { createBuiltinIdp, type BuiltinIdp } from '../idp/provider.js';
import { compileRoutes, parseHost } from '../proxy/match.js';
import { createForwarder } from '../proxy/forward.js';
import { compileTrustedProxies } from '../proxy/headers.js';
import { SessionManager } from '../session/manager.js';
import { createRelyingParty } from '../session/oidc.js';
import { callbackUrl } from '../session/return-to.js';
import { openStorage } from '../storage/open.js';
import type { IdentityStore, SessionRecord, SessionStore, Storage } from '../storage/types.js';
import { createMcpAuthServer, type McpAuthServer } from '../oauth/server.js';
import type { Lifetimes } from '../oauth/provider.js';
import type { CimdFetchOptions } from '../oauth/cimd.js';
import { renderPortal } from '../web/portal-page.js';
import { sendPage } from '../web/respond.js';
import { handleRoute, type RouteHandlerDeps } from './route-handler.js';
import { sendJson } from './respond.js';

export interface GatewayOptions {
  readonly config: Config;
  readonly logger: Logger;
  /** Addresses whose X-Forwarded-* headers are believed (addresses or CIDR ranges). */
  readonly trustedProxies?: readonly string[];
  /** Tuning of the OAuth server for MCP clients (tests; defaults suit production). */
  readonly oauth?: {
    readonly lifetimes?: Partial<Lifetimes>;
    readonly rateLimits?: Parameters<typeof createMcpAuthServer>[0]['rateLimits'];
    readonly cimdFetch?: CimdFetchOptions;
    readonly clientNeverUsedTtlMs?: number;
    readonly clientUnusedTtlMs?: number;
  };
}

export interface Gateway {
  /** Where the gateway listens, e.g. `http://127.0.0.1:8080`. */
  readonly url: string;
  readonly port: number;
  /** The public origin used for sign-in callbacks and the built-in provider. */
  readonly origin: string;
  readonly storage: Storage;
  close(): Promise<void>;
}

const SWEEP_INTERVAL_MS = 5 * 60_000;

/**
 * Starts the gateway from a validated config: storage, the identity assertion signer, sign-in
 * (the built-in provider or any OIDC provider), routes with policy, and the streaming proxy.
 */
export async function startGateway(options: GatewayOptions): Promise<Gateway> {
  const { config, logger } = options;
  const sharedSecret = config.sharedSecret ?? generatedSecret(logger, 'shared_secret');
  const cookieSecret = config.cookieSecret ?? generatedSecret(logger, 'cookie_secret');
  const scheme = config.tls ? 'https' : 'http';
  if (!config.tls && !config.insecureServer) {
    throw new ConfigError(
      `${config.source} certificate_file`,
      'no TLS certificate: set certificate_file and certificate_key_file, or insecure_server: true for plain HTTP',
    );
  }

  const storage = await openStorage(config.storage);
  const closers: Array<() => Promise<void> | void> = [() => storage.close()];
  try {
    const signer = await AssertionSigner.create({
      store: storage.signingKeys,
      sharedSecret,
      signingKeyPem: config.signingKey ?? undefined,
      onError: (err) => logger.error({ err }, 'assertion keys: reload failed'),
    });
    // The port is bound first (the public origin may need it); until everything behind it is
    // built, requests get 503 with a hint to retry.
    let app = (_req: IncomingMessage, res: ServerResponse) => {
      res.writeHead(503, { 'retry-after': '1', 'cache-control': 'no-store' }).end();
    };
    const listener = await listen(config, scheme, (req, res) => app(req, res));
    closers.unshift(() => closeServer(listener));
    const address = listener.address() as AddressInfo;
    const origin = publicOrigin(config, scheme, address.port);
    const redirectUri = callbackUrl(origin, config.authenticateServiceUrl);

    let idp: BuiltinIdp | undefined;
    let rp;
    if (config.idp.provider === 'builtin') {
      idp = await createBuiltinIdp({
        gatewayOrigin: origin,
        redirectUri,
        storage,
        users: config.idp.users,
        sharedSecret,
        cookieSecret,
        logger,
      });
      rp = createRelyingParty(idp.relyingParty);
    } else {
      rp = createRelyingParty({
        issuerUrl: config.idp.providerUrl,
        clientId: config.idp.clientId,
        clientSecret: config.idp.clientSecret,
        scopes: config.idp.scopes,
        redirectUri,
      });
    }
    const sessions = new SessionManager({
      storage: { sessions: rememberingIdentities(storage.sessions, storage.identities) },
      cookieSecret,
      sharedSecret,
      secureCookies: scheme === 'https',
      idp: rp,
      logger,
    });
    const forwarder = createForwarder({ logger });
    closers.unshift(() => forwarder.close());
    const matcher = compileRoutes(config.routes);
    const jwks = createJwksHandler(signer, {
      onError: (err) => logger.error({ err }, 'jwks: could not list keys'),
    });
    const trustedProxy = compileTrustedProxies(options.trustedProxies ?? []);
    const hasMcpServers = config.routes.some((r) => r.mcp?.kind === 'server');
    const mcpAuth: McpAuthServer | undefined = hasMcpServers
      ? await createMcpAuthServer({
          routes: config.routes,
          storage,
          sharedSecret,
          cookieSecret,
          dynamicRegistration: config.runtimeFlags.mcpDynamicClientRegistration,
          allowedClientIdDomains: config.mcpAllowedClientIdDomains,
          authenticate: (req) => sessions.authenticate(req),
          startSignIn: (req, res, returnTo) => sessions.startSignIn(req, res, returnTo),
          clientIp: (req) => clientIp(req, trustedProxy),
          logger,
          ...options.oauth,
        })
      : undefined;
    const deps: RouteHandlerDeps = {
      forwarder,
      logger,
      scheme,
      trustedProxy,
      authenticate: (req) => sessions.authenticate(req),
      startSignIn: (req, res, returnTo) => sessions.startSignIn(req, res, returnTo),
      assertionFor: (route, session) => assertionFor(signer, route, session, config),
      claimsHeaders: config.jwtClaimsHeaders,
      ...(mcpAuth ? { bearer: (req, route) => mcpAuth.authenticateBearer(req, route) } : {}),
    };
    const mcpServers = config.routes.flatMap((r) =>
      r.mcp?.kind === 'server'
        ? [
            {
              name: r.name ?? r.mcp.resourceUrl,
              description: r.description,
              url: r.mcp.resourceUrl,
            },
          ]
        : [],
    );

    const handlers: Record<string, (req: IncomingMessage, res: ServerResponse) => Promise<void>> = {
      '/oauth2/callback': (req, res) => sessions.handleCallback(req, res),
      '/.pomerium/sign_out': (req, res) => sessions.signOut(req, res),
      '/.pomerium/user': (req, res) => sessions.userInfo(req, res),
      [JWKS_PATH]: jwks,
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

    app = (req: IncomingMessage, res: ServerResponse) => {
      const requestId = requestIdOf(req);
      res.setHeader('x-request-id', requestId);
      serve(req, res, requestId).catch((err: unknown) => {
        logger.error({ err, req_id: requestId }, 'unhandled error while answering a request');
        if (!res.headersSent) sendJson(res, 500, { error: 'server_error' });
        else res.destroy();
      });
    };

    const serve = async (req: IncomingMessage, res: ServerResponse, requestId: string) => {
      const path = requestPath(req.url);
      if (path === undefined) {
        sendJson(res, 400, {
          error: 'invalid_request',
          error_description: 'malformed request path',
        });
        return;
      }
      if (idp && (path === idp.pathPrefix || path.startsWith(`${idp.pathPrefix}/`))) {
        return idp.handle(req, res);
      }
      const own = handlers[path];
      if (own) return own(req, res);
      const match = matcher.match({ host: req.headers.host ?? '', path }, scheme);
      if (mcpAuth && (await mcpAuth.handle(req, res, path, match))) return;
      if (match) return handleRoute(deps, req, res, match, requestId, path);
      if (path === '/' && (req.method === 'GET' || req.method === 'HEAD')) {
        const session = await sessions.authenticate(req);
        if (!session) return sessions.startSignIn(req, res, '/');
        return portal(res, session, mcpServers);
      }
      sendJson(res, 404, {
        error: 'not_found',
        error_description: 'no route matches this request',
      });
    };

    const sweep = setInterval(() => {
      const now = Date.now();
      void Promise.all([
        storage.sessions.sweep(now),
        storage.loginAttempts.prune(now - 24 * 3_600_000),
        mcpAuth?.sweep(),
      ]).catch((err: unknown) => logger.warn({ err }, 'storage sweep failed'));
    }, SWEEP_INTERVAL_MS);
    sweep.unref();
    closers.unshift(() => clearInterval(sweep));

    const hostPart = address.family === 'IPv6' ? `[${address.address}]` : address.address;
    logger.info(
      { url: `${scheme}://${hostPart}:${address.port}`, origin, routes: config.routes.length },
      'gateway listening',
    );
    let closing: Promise<void> | undefined;
    return {
      url: `${scheme}://${hostPart}:${address.port}`,
      port: address.port,
      origin,
      storage,
      close: () =>
        (closing ??= (async () => {
          for (const close of closers) await close();
          logger.info('gateway stopped');
        })()),
    };
  } catch (err) {
    for (const close of closers) await close();
    throw err;
  }
}

function portal(
  res: ServerResponse,
  session: SessionRecord,
  servers: readonly { name: string; description: string | null; url: string }[],
): void {
  sendPage(res, 200, renderPortal({ user: session, servers }));
}

async function assertionFor(
  signer: AssertionSigner,
  route: RouteConfig,
  session: SessionRecord,
  config: Config,
): Promise<string> {
  const host = new URL(route.from).hostname;
  const extraClaims: Record<string, unknown> = {};
  for (const claim of Object.values(config.jwtClaimsHeaders)) {
    if (claim in session.claims) extraClaims[claim] = session.claims[claim];
  }
  return signer.sign({
    issuer: host,
    audience: host,
    sub: session.sub,
    email: session.email,
    name: session.name,
    groups: session.groups,
    // The session's id in storage is a hash already; hash again so the claim reveals nothing.
    sid: sha256Hex(session.idHash).slice(0, 32),
    extraClaims,
  });
}

/**
 * Session writes also refresh the user's identity for OAuth clients (`IdentityStore`): every
 * sign-in and every refresh of the provider's claims, so token requests see current groups.
 */
function rememberingIdentities(sessions: SessionStore, identities: IdentityStore): SessionStore {
  return {
    get: (idHash, now) => sessions.get(idHash, now),
    delete: (idHash) => sessions.delete(idHash),
    sweep: (now) => sessions.sweep(now),
    async put(session) {
      await sessions.put(session);
      await identities.put({
        sub: session.sub,
        email: session.email,
        name: session.name,
        groups: session.groups,
        claims: session.claims,
        updatedAt: session.createdAt,
      });
    },
  };
}

/** The client's address for rate limits: the peer, or the last hop a trusted proxy names. */
function clientIp(req: IncomingMessage, trustedProxy: (address: string) => boolean): string {
  const peer = req.socket.remoteAddress ?? 'unknown';
  const forwarded = req.headers['x-forwarded-for'];
  if (typeof forwarded !== 'string' || !trustedProxy(peer)) return peer;
  return forwarded.split(',').at(-1)?.trim() || peer;
}

function generatedSecret(logger: Logger, key: string): string {
  logger.warn(
    { key },
    `${key} is not set: using a random one, so sessions and stored secrets do not survive a restart`,
  );
  return randomId(32);
}

/**
 * The origin browsers use for the gateway itself (sign-in callback, built-in provider):
 * `authenticate_service_url`, else the first route's `from`, else the listener.
 */
function publicOrigin(config: Config, scheme: string, port: number): string {
  if (config.authenticateServiceUrl) return new URL(config.authenticateServiceUrl).origin;
  const first = config.routes[0];
  if (first) return new URL(first.from).origin;
  return `${scheme}://localhost:${port}`;
}

/**
 * The path of a request target, or undefined when it could smuggle past prefix matching:
 * dot segments, encoded slashes or backslashes, NUL. Absolute-form targets are reduced to
 * their path.
 */
export function requestPath(target: string | undefined): string | undefined {
  if (target === undefined) return undefined;
  let raw = target;
  if (!raw.startsWith('/')) {
    try {
      raw = new URL(raw).pathname;
    } catch {
      return undefined;
    }
  }
  const path = raw.split('?')[0]!;
  if (/%2f|%5c|%00|\\/i.test(path)) return undefined;
  let decoded: string;
  try {
    decoded = decodeURIComponent(path);
  } catch {
    return undefined;
  }
  if (decoded.split('/').some((s) => s === '.' || s === '..')) return undefined;
  return path;
}

function requestIdOf(req: IncomingMessage): string {
  const given = req.headers['x-request-id'];
  return typeof given === 'string' && /^[\w.:-]{1,128}$/.test(given) ? given : randomUUID();
}

async function listen(
  config: Config,
  scheme: 'http' | 'https',
  handler: (req: IncomingMessage, res: ServerResponse) => void,
): Promise<Server> {
  const server =
    scheme === 'https' && config.tls
      ? createHttpsServer(
          {
            cert: readFileSync(config.tls.certificateFile),
            key: readFileSync(config.tls.certificateKeyFile),
            keepAliveTimeout: 65_000,
          },
          handler,
        )
      : createHttpServer({ keepAliveTimeout: 65_000 }, handler);
  // MCP streams live long: no request timeout at the edge (the routes decide).
  server.requestTimeout = 0;
  const host =
    config.address.host === ''
      ? undefined
      : (parseHost(config.address.host)?.hostname ?? config.address.host);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.address.port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return server;
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeIdleConnections();
    setTimeout(() => server.closeAllConnections(), 10_000).unref();
  });
}
