/**
 * One oidc-provider instance per MCP host: the issuer is the host's origin (no path), as
 * Pomerium does, because some clients build `/authorize` and `/token` from the MCP origin.
 * Endpoints live at Pomerium's paths under `/.pomerium/mcp/`.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { deriveKey, randomId, sha256Hex, timingSafeEqualString } from '../core/crypto.js';
import { MCP_AS_COOKIE_NAMES } from '../core/gateway-cookies.js';
import { deriveSigningJwk } from '../idp/keys.js';
import {
  loadOidcErrors,
  loadOidcProvider,
  mountProvider,
  type ClientInstance,
  type OidcProvider,
  type ProviderContext,
} from '../idp/oidc-provider-module.js';
import type { SessionLogger } from '../session/manager.js';
import type { OAuthClientStore, OAuthStore } from '../storage/types.js';
import { renderError } from '../web/error-page.js';
import { pageHeaders } from '../web/respond.js';
import { createAdapterFactory, SECRET_HASH_PREFIX } from './adapter.js';
import {
  authorizationParamsValidator,
  discoveryWithoutOpenId,
  SILENT_PARAM,
} from './authorization-request.js';
import { createProviderFetch, hostAllowed, type CimdFetchOptions } from './cimd.js';
import { registrationFingerprint } from './client-identity.js';
import { INTERACTION_PREFIX } from './interactions.js';
import { AS_SCOPES, MCP_SCOPE } from './metadata.js';
import { checkRedirectUris } from './redirect-uris.js';

export const MCP_PATH_PREFIX = '/.pomerium/mcp';
export const OAUTH_ROUTES = {
  authorization: `${MCP_PATH_PREFIX}/authorize`,
  token: `${MCP_PATH_PREFIX}/token`,
  registration: `${MCP_PATH_PREFIX}/register`,
  revocation: `${MCP_PATH_PREFIX}/revoke`,
  jwks: `${MCP_PATH_PREFIX}/jwks`,
} as const;

/** oidc-provider's feature version acknowledgement for Client ID Metadata Documents. */
const CIMD_ACK = 'draft-02';

export interface Lifetimes {
  /** Seconds. */
  readonly accessToken: number;
  readonly refreshToken: number;
  readonly grant: number;
  readonly code: number;
  readonly interaction: number;
}

export const DEFAULT_LIFETIMES: Lifetimes = {
  accessToken: 15 * 60,
  refreshToken: 30 * 24 * 3600,
  grant: 90 * 24 * 3600,
  code: 60,
  interaction: 10 * 60,
};

export interface McpProviderOptions {
  /** `https://<host>` (the MCP host's origin). */
  readonly issuer: string;
  /** This host's MCP resource URLs. */
  readonly resources: ReadonlySet<string>;
  readonly oauth: OAuthStore;
  readonly clients: OAuthClientStore;
  readonly sharedSecret: string;
  readonly cookieSecret: string;
  readonly dynamicRegistration: boolean;
  /** `mcp_allowed_client_id_domains`; empty: Client ID Metadata Documents are off. */
  readonly allowedClientIdDomains: readonly string[];
  readonly cimdFetch: CimdFetchOptions;
  readonly lifetimes: Lifetimes;
  readonly logger: SessionLogger;
  readonly onDestroyed: (model: string, id: string) => void;
  readonly onGrantRevoked: (grantId: string) => void;
  readonly onTokenIssued: (clientId: string) => void;
}

export interface McpProvider {
  readonly issuer: string;
  readonly provider: OidcProvider;
  /** Serves a request for one of the provider's own paths (rewritten by the caller). */
  serve(req: IncomingMessage, res: ServerResponse): Promise<void>;
}

export async function createMcpProvider(options: McpProviderOptions): Promise<McpProvider> {
  const Provider = await loadOidcProvider();
  const errors = await loadOidcErrors();
  const pendingFingerprints = new Map<string, string>();
  const issuerUrl = new URL(options.issuer);
  const resources = [...options.resources];
  const cimd = options.allowedClientIdDomains.length > 0;

  const provider: OidcProvider = new Provider(options.issuer, {
    adapter: createAdapterFactory({
      oauth: options.oauth,
      clients: options.clients,
      pendingFingerprints,
      onDestroyed: options.onDestroyed,
      onGrantRevoked: options.onGrantRevoked,
    }),
    // MCP clients are native apps or hosted services; `native` lets them use custom schemes
    // and loopback redirects on any port (RFC 8252 §7).
    clientDefaults: {
      application_type: 'native',
      grant_types: ['authorization_code'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
      id_token_signed_response_alg: 'ES256',
    },
    // No HMAC methods: secrets are stored hashed, so `client_secret_jwt` cannot be verified.
    clientAuthMethods: ['none', 'client_secret_basic', 'client_secret_post', 'private_key_jwt'],
    enabledJWA: { clientAuthSigningAlgValues: ['ES256', 'RS256', 'PS256', 'Ed25519', 'EdDSA'] },
    jwks: {
      keys: [
        deriveSigningJwk(deriveKey(options.sharedSecret, 'mcp-as-signing').toString('base64')),
      ],
    },
    cookies: {
      keys: [deriveKey(options.cookieSecret, 'mcp-as-cookies').toString('base64url')],
      // Distinct from the built-in identity provider's on the same host, and never proxied.
      names: MCP_AS_COOKIE_NAMES,
    },
    // `mcp` and `offline_access` (SEP-2207: an authorization-server scope, so listed here and
    // not in the resource metadata). oidc-provider adds `openid` itself; it is refused.
    scopes: [...AS_SCOPES],
    extraParams: { [SILENT_PARAM]: authorizationParamsValidator(errors) },
    responseTypes: ['code'],
    // OAuth 2.1 §4.1.1: PKCE for every client; oidc-provider 9 only knows S256.
    pkce: { required: () => true },
    // Browser-based clients (MCP Inspector) call the token and revocation endpoints.
    clientBasedCORS: () => true,
    routes: OAUTH_ROUTES,
    features: {
      devInteractions: { enabled: false },
      dPoP: { enabled: false },
      userinfo: { enabled: false },
      rpInitiatedLogout: { enabled: false },
      pushedAuthorizationRequests: { enabled: false },
      revocation: { enabled: true },
      registration: {
        enabled: options.dynamicRegistration,
        issueRegistrationAccessToken: false,
        idFactory: (ctx: ProviderContext) => {
          const id = randomId(16);
          pendingFingerprints.set(id, registrationFingerprint(ctx.oidc.body ?? {}));
          return id;
        },
      },
      resourceIndicators: {
        enabled: true,
        // RFC 8707 §2: a host with one MCP server needs no `resource`; otherwise it must be named.
        defaultResource: (_ctx: unknown, _client: unknown, oneOf?: string[]) =>
          oneOf ?? (resources.length === 1 ? resources[0] : undefined),
        useGrantedResource: () => true,
        getResourceServerInfo: (_ctx: unknown, indicator: string) => {
          if (!options.resources.has(indicator)) {
            throw new errors.InvalidTarget('resource is not an MCP server of this host');
          }
          return {
            scope: MCP_SCOPE,
            audience: indicator,
            accessTokenFormat: 'opaque',
            accessTokenTTL: options.lifetimes.accessToken,
          };
        },
      },
      clientIdMetadataDocument: cimd
        ? {
            enabled: true,
            ack: CIMD_ACK,
            allowFetch: (_ctx: unknown, id: string) =>
              hostAllowed(new URL(id).hostname, options.allowedClientIdDomains),
            allowClient: (_ctx: unknown, client: ClientInstance) =>
              checkRedirectUris(client.redirectUris) === undefined,
          }
        : { enabled: false },
    },
    fetch: createProviderFetch(options.cimdFetch),
    interactions: {
      url: (_ctx: unknown, interaction: { uid: string }) =>
        `${INTERACTION_PREFIX}${interaction.uid}`,
    },
    findAccount: (_ctx: unknown, sub: string) => ({ accountId: sub, claims: () => ({ sub }) }),
    // Every authorization goes through the interaction, which checks the gateway session and
    // remembered consent: only a grant made by it counts.
    loadExistingGrant: async (ctx: ProviderContext) => {
      const grantId = ctx.oidc.result?.consent?.grantId;
      return grantId ? ctx.oidc.provider.Grant.find(grantId) : undefined;
    },
    issueRefreshToken: (_ctx: unknown, client: ClientInstance) =>
      client.grantTypeAllowed('refresh_token'),
    rotateRefreshToken: () => true,
    expiresWithSession: () => false,
    renderError: (ctx: ProviderContext, out: { error_description?: string }) => {
      ctx.type = 'html';
      ctx.set(pageHeaders());
      ctx.body = renderError({
        title: 'Authorization failed',
        message: out.error_description ?? 'The authorization request is invalid.',
      }).value;
    },
    ttl: {
      AccessToken: options.lifetimes.accessToken,
      AuthorizationCode: options.lifetimes.code,
      RefreshToken: options.lifetimes.refreshToken,
      Grant: options.lifetimes.grant,
      Interaction: options.lifetimes.interaction,
      Session: options.lifetimes.interaction,
      IdToken: options.lifetimes.accessToken,
    },
  });
  // Secrets are stored as SHA-256 (adapter.ts); compare the same way, in constant time.
  provider.Client.prototype.compareClientSecret = function (this: ClientInstance, actual: string) {
    const stored = this.clientSecret ?? '';
    if (!stored.startsWith(SECRET_HASH_PREFIX) || typeof actual !== 'string') return false;
    return timingSafeEqualString(stored, SECRET_HASH_PREFIX + sha256Hex(actual));
  };
  provider.on('grant.success', (ctx) => {
    const clientId = (ctx as ProviderContext).oidc.client?.clientId;
    if (clientId) options.onTokenIssued(clientId);
  });
  provider.on('server_error', (_ctx, err) =>
    options.logger.error({ err }, 'mcp authorization server error'),
  );
  for (const event of [
    'grant.error',
    'authorization.error',
    'registration_create.error',
    'revocation.error',
  ]) {
    provider.on(event, (_ctx, err) =>
      options.logger.info({ err: describe(err), issuer: options.issuer }, `oauth ${event}`),
    );
  }
  provider.use(async (ctx, next) => {
    await next();
    if (ctx.oidc?.route === 'discovery') discoveryWithoutOpenId(ctx);
  });
  provider.proxy = true;
  const mounted = mountProvider(provider, '');
  return {
    issuer: options.issuer,
    provider,
    serve(req, res) {
      // The provider builds its URLs from the request; make it see the issuer's origin
      // whatever the listener (TLS may end in front of the gateway).
      req.headers['x-forwarded-proto'] = issuerUrl.protocol.slice(0, -1);
      req.headers['x-forwarded-host'] = issuerUrl.host;
      delete req.headers['x-forwarded-port'];
      return mounted(req, res);
    },
  };
}

function describe(err: unknown): { error?: string; error_description?: string } | undefined {
  if (err === null || typeof err !== 'object') return undefined;
  const e = err as { error?: unknown; error_description?: unknown; error_detail?: unknown };
  return {
    error: typeof e.error === 'string' ? e.error : undefined,
    error_description:
      typeof e.error_detail === 'string'
        ? e.error_detail
        : typeof e.error_description === 'string'
          ? e.error_description
          : undefined,
  };
}
