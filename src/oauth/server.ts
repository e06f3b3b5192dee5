/**
 * The OAuth 2.1 authorization server for MCP clients, as the gateway's dispatch sees it: a pure
 * lookup of the endpoint a request names (`endpoint`), the bearer check of MCP routes
 * (`authenticateBearer`), and housekeeping. Each endpoint is a module of its own (discovery,
 * registration, token, authorization, the consent interaction), a short list of named checks
 * that throw `OAuthError`s, answered by the one serializer (`errors.ts`). One oidc-provider per
 * MCP host (`hosts.ts`). A grant lives only as long as the gateway session it was made under
 * (`grant-session.ts`): once that session is gone, its tokens are refused (401 `invalid_token`,
 * `invalid_grant` at the token endpoint) and the grant is revoked.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { deriveKey } from '../core/crypto.js';
import type { RouteConfig } from '../config/types.js';
import type { RouteMatch } from '../proxy/match.js';
import type { SessionLogger, StartSignIn } from '../session/manager.js';
import type { SessionRecord, Storage } from '../storage/types.js';
import {
  authenticateBearer,
  authenticateClientModeBearer,
  type BearerOutcome,
} from './authenticate-bearer.js';
import { recordGrantUse } from './authorized-clients.js';
import { authorizeEndpoint } from './authorize-endpoint.js';
import { BearerValidator } from './bearer.js';
import { withFetchScope, type CimdFetchOptions } from './cimd.js';
import { anyHostProvider, mintClientModeToken, type ClientModeToken } from './client-mode.js';
import { sendOAuthFailure } from './errors.js';
import { grantSessionCheck, type GrantSessionCheck } from './grant-session.js';
import type { UpstreamConnectPort } from './interactions.js';
import { HostDirectory, type Host, type HostDeps, type OAuthEndpoint } from './hosts.js';
import { resourceMetadataEndpoint, serverMetadataEndpoint } from './metadata-endpoint.js';
import { DEFAULT_LIFETIMES, type Lifetimes } from './provider.js';
import { clientNames } from './client-names.js';
import type { RateLimit } from './rate-limit.js';
import { endpointLimiter, type LimiterStorage } from './shared-rate-limit.js';
import { registerEndpoint } from './register-endpoint.js';
import { oauthRoute, providerUrl, type OAuthRoute } from './routes.js';
import { tokenEndpoint } from './token-endpoint.js';
import { userGrants, type UserGrants } from './user-grants.js';

export type { BearerOutcome } from './authenticate-bearer.js';
export type { AuthorizedClient } from './authorized-clients.js';
export type { ClientModeToken } from './client-mode.js';
export type { UpstreamConnectPort } from './interactions.js';

export interface McpAuthServerOptions {
  /** Every route; the `mcp.server` ones define the hosts (issuers) and resources. */
  readonly routes: readonly RouteConfig[];
  readonly storage: LimiterStorage &
    Pick<
      Storage,
      'oauth' | 'oauthClients' | 'consents' | 'identities' | 'sessions' | 'invalidation'
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
  readonly startSignIn: StartSignIn;
  readonly clientIp: (req: IncomingMessage) => string;
  /** Sends the user to an upstream provider before a grant, when the resource needs one. */
  readonly upstream?: UpstreamConnectPort;
  readonly logger: SessionLogger;
  readonly lifetimes?: Partial<Lifetimes>;
  readonly rateLimits?: { readonly register?: RateLimit; readonly token?: RateLimit };
  /** Registered clients never authorized are deleted after this. Default 1 day. */
  readonly clientNeverUsedTtlMs?: number;
  /** Registered clients not used for this long are deleted. Default 30 days. */
  readonly clientUnusedTtlMs?: number;
  readonly now?: () => number;
}

/** Serves one request the authorization server claimed. */
export type OAuthHandler = (req: IncomingMessage, res: ServerResponse) => Promise<void>;

/** Revocation and the portal's list of clients come from `user-grants.ts`. */
export interface McpAuthServer extends UserGrants {
  /** The authorization server's handler for this request, or undefined when it is not its. No I/O. */
  endpoint(
    req: IncomingMessage,
    path: string,
    match: RouteMatch | undefined,
  ): OAuthHandler | undefined;
  /** Checks the bearer token of a request on an `mcp.server` route. */
  authenticateBearer(
    req: IncomingMessage,
    route: RouteConfig,
  ): BearerOutcome | Promise<BearerOutcome>;
  /** Checks a client-mode token (`client-mode.ts`) presented to the app-facing endpoints. */
  authenticateClientToken(req: IncomingMessage): Promise<BearerOutcome>;
  /** Mints a client-mode token for `session`'s user, valid on the MCP resources `audiences`. */
  mintClientToken(session: SessionRecord, audiences: readonly string[]): Promise<ClientModeToken>;
  /** A gateway session ended in this process (sign-out): its grants are re-checked now. */
  sessionEnded(idHash: string): void;
  /** Deletes expired OAuth records and stale registered clients. */
  sweep(): Promise<void>;
}

const DAY = 24 * 3_600_000;

export async function createMcpAuthServer(options: McpAuthServerOptions): Promise<McpAuthServer> {
  const now = options.now ?? Date.now;
  const { storage, logger } = options;
  const grantSession = grantSessionCheck({
    oauth: storage.oauth,
    sessions: storage.sessions,
    now,
    logger,
    forgetGrant: (grantId) => validator.forgetGrant(grantId),
  });
  // From storage: the identities, and the invalidation bus revocations arrive on.
  const validator = new BearerValidator({ ...storage, now, grantSession });
  const hosts = await HostDirectory.create(options.routes, hostDeps(options, validator, now));
  const endpoints = endpointModules(options, grantSession, now);
  const names = clientNames(storage.oauthClients);
  return {
    endpoint(req, path, match) {
      const host = hosts.of(req);
      const route = host && oauthRoute(path, match);
      if (host === undefined || route === undefined) return undefined;
      const serve = handlerFor(route, endpoints, path);
      // One fetch per URL per request: oidc-provider looks a refused client up a second time.
      return (req, res) =>
        withFetchScope(() => serve(req, res, host)).catch((err: unknown) =>
          sendOAuthFailure(req, res, err),
        );
    },
    authenticateBearer: (req, route) =>
      authenticateBearer({ hosts, validator, now, names }, req, route),
    authenticateClientToken: (req) => authenticateClientModeBearer({ hosts, validator, now }, req),
    mintClientToken: (session, audiences) =>
      mintClientModeToken(
        {
          provider: anyHostProvider(hosts),
          identities: options.storage.identities,
          oauth: options.storage.oauth,
          lifetime: options.lifetimes?.clientModeToken ?? DEFAULT_LIFETIMES.clientModeToken,
          now,
        },
        session,
        audiences,
      ),
    sessionEnded: (idHash) => validator.forgetSession(idHash),
    ...userGrants(options, validator, now),
    async sweep() {
      const at = now();
      await storage.oauth.sweep(at);
      await storage.oauthClients.sweep(
        at - (options.clientNeverUsedTtlMs ?? DAY),
        at - (options.clientUnusedTtlMs ?? 30 * DAY),
      );
    },
  };
}

/** The endpoint modules that take settings (the rest are plain functions). */
function endpointModules(
  options: McpAuthServerOptions,
  grantSession: GrantSessionCheck,
  now: () => number,
): { readonly register: OAuthEndpoint; readonly token: OAuthEndpoint } {
  const limits = options.rateLimits;
  const limiter = (name: 'register' | 'token', fallback: RateLimit) =>
    endpointLimiter(options.storage, name, limits?.[name] ?? fallback, now);
  return {
    register: registerEndpoint({
      enabled: options.dynamicRegistration,
      limiter: limiter('register', { max: 20, windowMs: 60_000 }),
      clientIp: options.clientIp,
      clients: options.storage.oauthClients,
      logger: options.logger,
    }),
    token: tokenEndpoint({
      limiter: limiter('token', { max: 120, windowMs: 60_000 }),
      clientIp: options.clientIp,
      grantSession,
    }),
  };
}

/** The route's endpoint, bound to what it needs from the request's lookup. */
function handlerFor(
  route: OAuthRoute,
  endpoints: ReturnType<typeof endpointModules>,
  path: string,
): (req: IncomingMessage, res: ServerResponse, host: Host) => Promise<void> {
  switch (route.endpoint) {
    case 'resource-metadata':
      return (req, res, host) => resourceMetadataEndpoint(req, res, host, path);
    case 'server-metadata':
      return serverMetadataEndpoint;
    case 'interaction':
      return (req, res, host) => host.interaction.handle(req, res, route.uid);
    case 'register':
      return (req, res, host) =>
        endpoints.register(req, res, host, providerUrl(req.url, route.aliasOf));
    case 'token':
      return (req, res, host) =>
        endpoints.token(req, res, host, providerUrl(req.url, route.aliasOf));
    case 'authorize':
      return (req, res, host) =>
        authorizeEndpoint(req, res, host, providerUrl(req.url, route.aliasOf));
    case 'provider':
      return (req, res, host) =>
        host.oidc.serve(req, res, { url: providerUrl(req.url, route.aliasOf) });
  }
}

/** What every MCP host's provider and consent interaction are built with. */
function hostDeps(
  options: McpAuthServerOptions,
  validator: BearerValidator,
  now: () => number,
): HostDeps {
  const { storage, logger } = options;
  const lifetimes = { ...DEFAULT_LIFETIMES, ...options.lifetimes };
  return {
    provider: {
      oauth: storage.oauth,
      clients: storage.oauthClients,
      sharedSecret: options.sharedSecret,
      cookieSecret: options.cookieSecret,
      dynamicRegistration: options.dynamicRegistration,
      allowedClientIdDomains: options.allowedClientIdDomains,
      cimdFetch: { ...options.cimdFetch, allowPrivateHosts: options.allowedPrivateHosts ?? [] },
      lifetimes,
      logger,
      onDestroyed: (model, id) => {
        if (model === 'AccessToken') validator.forgetToken(id);
      },
      onGrantRevoked: (grantId) => validator.forgetGrant(grantId),
      onTokenIssued: (clientId, grant) => {
        const at = now();
        storage.oauthClients
          .markUsed(clientId, at)
          .catch((err: unknown) => logger.warn({ err }, 'could not record client use'));
        if (grant === undefined) return;
        recordGrantUse(storage.oauth, grant, at).catch((err: unknown) =>
          logger.warn({ err }, 'could not record grant use'),
        );
      },
    },
    interaction: {
      authenticate: options.authenticate,
      startSignIn: options.startSignIn,
      consents: storage.consents,
      identities: storage.identities,
      oauth: storage.oauth,
      grantLifetime: lifetimes.grant,
      ...(options.upstream ? { upstream: options.upstream } : {}),
      csrfKey: deriveKey(options.sharedSecret, 'mcp-consent-csrf'),
      now,
      logger,
    },
  };
}
