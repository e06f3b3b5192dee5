/**
 * The OAuth 2.1 authorization server for MCP clients, as the gateway edge sees it: which
 * requests are its own (discovery, endpoints, the consent interaction, Claude-style aliases),
 * CORS and rate limits in front of oidc-provider, and validation of the external token on MCP
 * routes. One oidc-provider per MCP host (`provider.ts`). A grant lives only as long as the
 * gateway session it was made under (`grant-session.ts`): once that session is gone, its
 * tokens are refused (401 `invalid_token`, `invalid_grant` at the token endpoint) and the
 * grant is revoked.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { deriveKey, sha256Hex } from '../core/crypto.js';
import type { RouteConfig } from '../config/types.js';
import { compileRoutes, type RouteMatch, type RouteMatcher } from '../proxy/match.js';
import type { SessionLogger } from '../session/manager.js';
import type { SessionRecord, Storage } from '../storage/types.js';
import { rewriteAuthorizationRequest } from './authorization-request.js';
import { BearerValidator } from './bearer.js';
import { withFetchScope, type CimdFetchOptions } from './cimd.js';
import { liveGrantSession } from './grant-session.js';
import { createInteractionHandler, INTERACTION_PREFIX } from './interactions.js';
import {
  protectedResourceMetadata,
  PRM_PATH,
  resourceForMetadataPath,
  type McpResource,
} from './metadata.js';
import {
  createMcpProvider,
  DEFAULT_LIFETIMES,
  OAUTH_ROUTES,
  type Lifetimes,
  type McpProvider,
} from './provider.js';
import { RateLimiter, type RateLimit } from './rate-limit.js';
import { readBody, readRegistration, replayRequest } from './registration.js';

export interface McpAuthServerOptions {
  /** Every route; the `mcp.server` ones define the hosts (issuers) and resources. */
  readonly routes: readonly RouteConfig[];
  readonly storage: Pick<
    Storage,
    'oauth' | 'oauthClients' | 'consents' | 'identities' | 'sessions'
  >;
  readonly sharedSecret: string;
  readonly cookieSecret: string;
  /** `runtime_flags.mcp_dynamic_client_registration` (default true here). */
  readonly dynamicRegistration: boolean;
  /** `mcp_allowed_client_id_domains`; empty turns Client ID Metadata Documents off. */
  readonly allowedClientIdDomains: readonly string[];
  /** `mcp_allowed_private_hosts`: fetched although at private or loopback addresses. */
  readonly allowedPrivateHosts?: readonly string[];
  /** Tuning of those fetches for tests (a test CA, name resolution). */
  readonly cimdFetch?: Omit<CimdFetchOptions, 'allowPrivateHosts'>;
  readonly authenticate: (req: IncomingMessage) => Promise<SessionRecord | undefined>;
  readonly startSignIn: (
    req: IncomingMessage,
    res: ServerResponse,
    returnTo: string,
  ) => Promise<void>;
  readonly clientIp: (req: IncomingMessage) => string;
  readonly logger: SessionLogger;
  readonly lifetimes?: Partial<Lifetimes>;
  readonly rateLimits?: { readonly register?: RateLimit; readonly token?: RateLimit };
  /** Registered clients never authorized are deleted after this. Default 1 day. */
  readonly clientNeverUsedTtlMs?: number;
  /** Registered clients not used for this long are deleted. Default 30 days. */
  readonly clientUnusedTtlMs?: number;
  readonly now?: () => number;
}

/** What an MCP request's `Authorization` header amounts to. */
export type BearerOutcome =
  | { readonly kind: 'none' }
  | { readonly kind: 'invalid' }
  | { readonly kind: 'valid'; readonly session: SessionRecord; readonly clientId: string };

export interface McpAuthServer {
  /** The authorization server's handler for this request, or undefined when it is not its. No I/O. */
  endpoint(
    req: IncomingMessage,
    path: string,
    match: RouteMatch | undefined,
  ): ((req: IncomingMessage, res: ServerResponse) => Promise<void>) | undefined;
  /** Serves the request when it is the authorization server's; false when it is not. */
  handle(
    req: IncomingMessage,
    res: ServerResponse,
    path: string,
    match: RouteMatch | undefined,
  ): Promise<boolean>;
  /** Checks the bearer token of a request on an `mcp.server` route. */
  authenticateBearer(req: IncomingMessage, route: RouteConfig): Promise<BearerOutcome>;
  /** A gateway session ended in this process (sign-out): its grants are re-checked now. */
  sessionEnded(idHash: string): void;
  /** Deletes expired OAuth records and stale registered clients. */
  sweep(): Promise<void>;
}

interface Host {
  readonly issuer: string;
  readonly resources: readonly McpResource[];
  readonly oidc: McpProvider;
  readonly interaction: ReturnType<typeof createInteractionHandler>;
}

const DAY = 24 * 3_600_000;
const AS_METADATA = new Set([
  '/.well-known/oauth-authorization-server',
  '/.well-known/openid-configuration',
]);
/** Claude.ai builds these from the MCP origin instead of reading the metadata. */
const ALIASES: Readonly<Record<string, string>> = {
  '/authorize': OAUTH_ROUTES.authorization,
  '/token': OAUTH_ROUTES.token,
  '/register': OAUTH_ROUTES.registration,
};
const ENDPOINTS = new Set<string>(Object.values(OAUTH_ROUTES));
const CORS_ALLOW_HEADERS = 'authorization, content-type, mcp-protocol-version';
/** Token requests are small; a `private_key_jwt` assertion fits many times over. */
const MAX_TOKEN_REQUEST_BYTES = 64 * 1024;

export async function createMcpAuthServer(options: McpAuthServerOptions): Promise<McpAuthServer> {
  const now = options.now ?? Date.now;
  const lifetimes = { ...DEFAULT_LIFETIMES, ...options.lifetimes };
  const { oauth, sessions } = options.storage;
  /** Revokes the grant (every token and its session record) and forgets its cached tokens. */
  async function revokeGrant(grantId: string): Promise<void> {
    await oauth.revokeByGrantId(grantId);
    await oauth.destroy('Grant', grantId);
    validator.forgetGrant(grantId);
  }
  /** The grant's live gateway session; when it is gone, the grant is revoked. */
  async function grantSession(grantId: string): Promise<string | undefined> {
    const idHash = await liveGrantSession(oauth, sessions, grantId, now());
    if (idHash === undefined) {
      await revokeGrant(grantId);
      options.logger.info({ grant_id: grantId }, 'mcp grant revoked: its gateway session ended');
    }
    return idHash;
  }
  const validator = new BearerValidator({
    identities: options.storage.identities,
    now,
    grantSession,
  });
  const registerLimit = new RateLimiter(
    options.rateLimits?.register ?? { max: 20, windowMs: 60_000 },
    now,
  );
  const tokenLimit = new RateLimiter(
    options.rateLimits?.token ?? { max: 120, windowMs: 60_000 },
    now,
  );
  const cimdFetch: CimdFetchOptions = {
    ...options.cimdFetch,
    allowPrivateHosts: options.allowedPrivateHosts ?? [],
  };
  const csrfKey = deriveKey(options.sharedSecret, 'mcp-consent-csrf');

  const mcpRoutes = options.routes.filter((r) => r.mcp?.kind === 'server');
  const byIssuer = new Map<string, McpResource[]>();
  for (const route of mcpRoutes) {
    if (route.mcp?.kind !== 'server') continue;
    const issuer = new URL(route.from).origin;
    const list = byIssuer.get(issuer) ?? [];
    list.push({ resource: route.mcp.resourceUrl, name: route.name ?? route.mcp.resourceUrl });
    byIssuer.set(issuer, list);
  }
  const hosts = new Map<string, Host>();
  for (const [issuer, resources] of byIssuer) {
    const oidc = await createMcpProvider({
      issuer,
      resources: new Set(resources.map((r) => r.resource)),
      oauth: options.storage.oauth,
      clients: options.storage.oauthClients,
      sharedSecret: options.sharedSecret,
      cookieSecret: options.cookieSecret,
      dynamicRegistration: options.dynamicRegistration,
      allowedClientIdDomains: options.allowedClientIdDomains,
      cimdFetch,
      lifetimes,
      logger: options.logger,
      onDestroyed: (model, id) => {
        if (model === 'AccessToken') validator.forgetToken(id);
      },
      onGrantRevoked: (grantId) => validator.forgetGrant(grantId),
      onTokenIssued: (clientId) => {
        options.storage.oauthClients
          .markUsed(clientId, now())
          .catch((err: unknown) => options.logger.warn({ err }, 'could not record client use'));
      },
    });
    const interaction = createInteractionHandler({
      provider: oidc.provider,
      authenticate: options.authenticate,
      startSignIn: options.startSignIn,
      consents: options.storage.consents,
      identities: options.storage.identities,
      oauth,
      grantLifetime: lifetimes.grant,
      resources: new Map(resources.map((r) => [r.resource, r.name])),
      csrfKey,
      now,
      logger: options.logger,
    });
    hosts.set(issuer, { issuer, resources, oidc, interaction });
  }
  // Hosts are matched like routes (port rules included), on a catch-all copy of each route.
  const hostMatcher: RouteMatcher = compileRoutes(
    mcpRoutes.map((r) => ({ ...r, match: { kind: 'any' as const } })),
  );
  const hostOf = (req: IncomingMessage): Host | undefined => {
    const scheme = (req.socket as { encrypted?: boolean }).encrypted ? 'https' : 'http';
    const route = hostMatcher.match({ host: req.headers.host ?? '', path: '/' }, scheme)?.route;
    return route ? hosts.get(new URL(route.from).origin) : undefined;
  };

  function limited(req: IncomingMessage, res: ServerResponse, limiter: RateLimiter): boolean {
    const decision = limiter.take(options.clientIp(req));
    if (decision.allowed) return false;
    oauthError(req, res, 429, 'temporarily_unavailable', 'too many requests; try again later', {
      'retry-after': String(decision.retryAfterSeconds),
    });
    return true;
  }

  async function register(host: Host, req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (!options.dynamicRegistration) {
      return oauthError(
        req,
        res,
        404,
        'invalid_request',
        'dynamic client registration is disabled',
      );
    }
    if (req.method === 'OPTIONS') return preflight(req, res, 'POST');
    if (req.method !== 'POST') return oauthError(req, res, 405, 'invalid_request', 'use POST');
    if (limited(req, res, registerLimit)) return;
    const step = await readRegistration(req);
    if (step.kind === 'refuse')
      return oauthError(req, res, step.status, step.error, step.description);
    if (step.reusable) {
      const existing = await options.storage.oauthClients.findByFingerprint(step.fingerprint);
      const client = existing && (await host.oidc.provider.Client.find(existing.clientId));
      if (client && client.tokenEndpointAuthMethod === 'none') {
        options.logger.info(
          { client_id: client.clientId },
          'identical registration: existing client returned',
        );
        return sendOAuthJson(req, res, 201, client.metadata());
      }
    }
    corsHeaders(req, res);
    return host.oidc.serve(replayRequest(req, step.body), res);
  }

  /**
   * The token endpoint: a code or refresh token whose grant's gateway session is gone is
   * refused with `invalid_grant` (and the grant revoked) before oidc-provider sees it.
   */
  async function token(host: Host, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = await readBody(req, MAX_TOKEN_REQUEST_BYTES);
    if (body === undefined) {
      return oauthError(req, res, 413, 'invalid_request', 'the token request is too large');
    }
    const type = (req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase();
    if (type === 'application/x-www-form-urlencoded') {
      const form = new URLSearchParams(body.toString('utf8'));
      const grantType = form.get('grant_type');
      const value = form.get(grantType === 'refresh_token' ? 'refresh_token' : 'code');
      let grantId: string | undefined;
      if (value && (grantType === 'refresh_token' || grantType === 'authorization_code')) {
        const model =
          grantType === 'refresh_token'
            ? host.oidc.provider.RefreshToken
            : host.oidc.provider.AuthorizationCode;
        // Unknown or malformed values are oidc-provider's to refuse.
        grantId = (await model.find(value).catch(() => undefined))?.grantId;
      }
      if (grantId !== undefined && (await grantSession(grantId)) === undefined) {
        return oauthError(
          req,
          res,
          400,
          'invalid_grant',
          'the sign-in this grant was made under has ended; authorize again',
        );
      }
    }
    return host.oidc.serve(replayRequest(req, body), res);
  }

  const server: Omit<McpAuthServer, 'endpoint'> = {
    async handle(req, res, path, match) {
      const host = hostOf(req);
      if (host === undefined) return false;
      if (path === PRM_PATH || path.startsWith(`${PRM_PATH}/`)) {
        const resource = resourceForMetadataPath(path, host.resources);
        if (req.method === 'OPTIONS') preflight(req, res, 'GET');
        else if (resource === undefined)
          oauthError(req, res, 404, 'invalid_request', 'no MCP server at this path');
        else
          sendOAuthJson(
            req,
            res,
            200,
            protectedResourceMetadata(resource, host.issuer),
            'public, max-age=60',
          );
        return true;
      }
      if (AS_METADATA.has(path)) {
        await host.oidc.serve(req, res);
        return true;
      }
      if (path.startsWith(INTERACTION_PREFIX)) {
        const uid = path.slice(INTERACTION_PREFIX.length);
        if (!/^[\w-]{1,64}$/.test(uid)) return false;
        await host.interaction(req, res, uid);
        return true;
      }
      let endpoint = path;
      const alias = ALIASES[path];
      if (alias !== undefined) {
        // A route of its own on the MCP host keeps the bare path, unless it is the MCP route.
        if (match !== undefined && match.route.mcp?.kind !== 'server') return false;
        endpoint = alias;
        const query = (req.url ?? '').indexOf('?');
        req.url = endpoint + (query === -1 ? '' : (req.url ?? '').slice(query));
      }
      const resume = endpoint.startsWith(`${OAUTH_ROUTES.authorization}/`);
      if (!ENDPOINTS.has(endpoint) && !resume) return false;
      if (endpoint === OAUTH_ROUTES.registration) {
        await register(host, req, res);
        return true;
      }
      if (endpoint === OAUTH_ROUTES.token && req.method === 'POST') {
        if (!limited(req, res, tokenLimit)) await token(host, req, res);
        return true;
      }
      if (endpoint === OAUTH_ROUTES.authorization && req.method === 'GET') {
        req.url = rewriteAuthorizationRequest(req.url ?? '/');
      }
      await host.oidc.serve(req, res);
      return true;
    },

    async authenticateBearer(req, route) {
      const header = req.headers.authorization;
      if (header === undefined) return { kind: 'none' };
      const token = /^Bearer +([^\s]+)$/i.exec(header)?.[1];
      const host = hosts.get(new URL(route.from).origin);
      if (token === undefined || host === undefined || route.mcp?.kind !== 'server')
        return { kind: 'invalid' };
      const user = await validator.validate(token, route.mcp.resourceUrl, (t) =>
        host.oidc.provider.AccessToken.find(t),
      );
      if (user === undefined) return { kind: 'invalid' };
      const { identity } = user;
      return {
        kind: 'valid',
        clientId: user.clientId,
        session: {
          // Stable per grant, so the assertion's `sid` names the client's connection.
          idHash: sha256Hex(`grant\0${user.grantId}`),
          sub: identity.sub,
          email: identity.email,
          name: identity.name,
          groups: identity.groups,
          claims: identity.claims,
          idpRefreshTokenEnc: null,
          idpExpiresAt: 0,
          createdAt: identity.updatedAt,
          expiresAt: now() + 60_000,
        },
      };
    },

    sessionEnded(idHash) {
      validator.forgetSession(idHash);
    },

    async sweep() {
      const at = now();
      await options.storage.oauth.sweep(at);
      await options.storage.oauthClients.sweep(
        at - (options.clientNeverUsedTtlMs ?? DAY),
        at - (options.clientUnusedTtlMs ?? 30 * DAY),
      );
    },
  };
  // One fetch per URL per request: oidc-provider looks a refused client up a second time.
  const handle: McpAuthServer['handle'] = (req, res, path, match) =>
    withFetchScope(() => server.handle(req, res, path, match));
  return {
    ...server,
    handle,
    // Interim seam for the pipeline's dispatch table (issue 9): the OAuth side's own
    // `endpoint` replaces this wrapper, which asks `ownsPath` what `handle` would take.
    endpoint(req, path, match) {
      if (hostOf(req) === undefined || !ownsPath(path, match)) return undefined;
      return async (rq, rs) => void (await handle(rq, rs, path, match));
    },
  };
}

/** Whether `handle` serves this path (on an MCP host). */
function ownsPath(path: string, match: RouteMatch | undefined): boolean {
  if (path === PRM_PATH || path.startsWith(`${PRM_PATH}/`) || AS_METADATA.has(path)) return true;
  if (path.startsWith(INTERACTION_PREFIX)) {
    return /^[\w-]{1,64}$/.test(path.slice(INTERACTION_PREFIX.length));
  }
  if (ALIASES[path] !== undefined) return match === undefined || match.route.mcp?.kind === 'server';
  return ENDPOINTS.has(path) || path.startsWith(`${OAUTH_ROUTES.authorization}/`);
}

/** CORS for discovery and registration: any origin, no credentials (tokens are not ambient). */
function corsHeaders(req: IncomingMessage, res: ServerResponse): void {
  res.setHeader('access-control-allow-origin', req.headers.origin ?? '*');
  res.setHeader('vary', 'Origin');
}

function preflight(req: IncomingMessage, res: ServerResponse, methods: string): void {
  corsHeaders(req, res);
  res.writeHead(204, {
    'access-control-allow-methods': methods,
    'access-control-allow-headers':
      req.headers['access-control-request-headers'] ?? CORS_ALLOW_HEADERS,
    'access-control-max-age': '3600',
  });
  res.end();
}

function sendOAuthJson(
  req: IncomingMessage,
  res: ServerResponse,
  status: number,
  value: unknown,
  cacheControl = 'no-store',
  headers: Record<string, string> = {},
): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  corsHeaders(req, res);
  const body = JSON.stringify(value);
  res.writeHead(status, {
    ...headers,
    'cache-control': cacheControl,
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(body),
  });
  res.end(body);
}

/** An RFC 6749 §5.2-shaped error body. */
function oauthError(
  req: IncomingMessage,
  res: ServerResponse,
  status: number,
  error: string,
  description: string,
  headers: Record<string, string> = {},
): void {
  sendOAuthJson(req, res, status, { error, error_description: description }, 'no-store', headers);
}
