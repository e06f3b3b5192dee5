/**
 * oidc-provider's configuration for one MCP host, as data: what the provider is told about
 * clients, keys, cookies, scopes, PKCE, resources (RFC 8707), Client ID Metadata Documents and
 * lifetimes. Behaviour the provider cannot be configured into lives in `provider.ts` (hashed
 * secrets, events) and in the endpoints in front of it.
 */
import { deriveKey, randomId } from '../core/crypto.js';
import { MCP_AS_COOKIE_NAMES } from '../core/gateway-cookies.js';
import { deriveSigningJwk } from '../oidc/keys.js';
import type {
  ClientInstance,
  OidcErrors,
  ProviderAdapter,
  ProviderContext,
} from '../oidc/provider-module.js';
import { renderError as renderErrorPage } from '../web/error-page.js';
import { pageHeaders } from '../web/respond.js';
import { authorizationParamsValidator, SILENT_PARAM } from './authorization-request.js';
import { createProviderFetch, hostAllowed, type CimdFetchOptions } from './cimd.js';
import { AS_SCOPES, MCP_SCOPE } from './metadata.js';
import { checkRedirectUris } from './redirect-uris.js';
import { INTERACTION_PREFIX, OAUTH_ROUTES } from './routes.js';

/** oidc-provider's feature version acknowledgement for Client ID Metadata Documents. */
const CIMD_ACK = 'draft-02';

export interface Lifetimes {
  /** Seconds. */
  readonly accessToken: number;
  readonly refreshToken: number;
  readonly grant: number;
  readonly code: number;
  readonly interaction: number;
  /** The external token an app behind an `mcp.client` route receives (client mode). */
  readonly clientModeToken: number;
}

export const DEFAULT_LIFETIMES: Lifetimes = {
  accessToken: 15 * 60,
  refreshToken: 30 * 24 * 3600,
  grant: 90 * 24 * 3600,
  code: 60,
  interaction: 10 * 60,
  // REFERENCE §2: short-lived, since an app hands it on to LLM APIs.
  clientModeToken: 5 * 60,
};

export interface ProviderSettings {
  /** This host's MCP resource URLs. */
  readonly resources: ReadonlySet<string>;
  readonly sharedSecret: string;
  readonly cookieSecret: string;
  readonly dynamicRegistration: boolean;
  /** `mcp_allowed_client_id_domains`; empty: Client ID Metadata Documents are off. */
  readonly allowedClientIdDomains: readonly string[];
  readonly cimdFetch: CimdFetchOptions;
  readonly lifetimes: Lifetimes;
  readonly adapter: (model: string) => ProviderAdapter;
  readonly errors: OidcErrors;
}

/** The configuration object of `new Provider(issuer, configuration)`. */
export function providerConfiguration(settings: ProviderSettings): Record<string, unknown> {
  return {
    adapter: settings.adapter,
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
        deriveSigningJwk(deriveKey(settings.sharedSecret, 'mcp-as-signing').toString('base64')),
      ],
    },
    cookies: {
      keys: [deriveKey(settings.cookieSecret, 'mcp-as-cookies').toString('base64url')],
      // Distinct from the built-in identity provider's on the same host, and never proxied.
      names: MCP_AS_COOKIE_NAMES,
    },
    // `mcp` and `offline_access` (SEP-2207: an authorization-server scope, so listed here and
    // not in the resource metadata). oidc-provider adds `openid` itself; it is refused.
    scopes: [...AS_SCOPES],
    extraParams: { [SILENT_PARAM]: authorizationParamsValidator(settings.errors) },
    responseTypes: ['code'],
    // OAuth 2.1 §4.1.1: PKCE for every client; oidc-provider 9 only knows S256.
    pkce: { required: () => true },
    // Browser-based clients (MCP Inspector) call the token and revocation endpoints.
    clientBasedCORS: () => true,
    routes: OAUTH_ROUTES,
    features: features(settings),
    fetch: createProviderFetch(settings.cimdFetch),
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
    // Always rotated (MCP "Token Theft"). oidc-provider asks this after client authentication
    // and replay detection, just before it spends the old token, and resolves `resource` only
    // once it is spent: checked here, a wrong resource leaves the token good.
    rotateRefreshToken: (ctx: ProviderContext) => {
      checkRefreshResource(ctx, settings.errors);
      return true;
    },
    expiresWithSession: () => false,
    renderError,
    ttl: ttl(settings.lifetimes),
  };
}

function features(settings: ProviderSettings): Record<string, unknown> {
  const { resources, lifetimes, errors, allowedClientIdDomains } = settings;
  const only = resources.size === 1 ? [...resources][0] : undefined;
  return {
    devInteractions: { enabled: false },
    dPoP: { enabled: false },
    userinfo: { enabled: false },
    rpInitiatedLogout: { enabled: false },
    pushedAuthorizationRequests: { enabled: false },
    revocation: { enabled: true, allowedPolicy: revocationAllowed(errors) },
    registration: {
      enabled: settings.dynamicRegistration,
      issueRegistrationAccessToken: false,
      idFactory: () => randomId(16),
    },
    resourceIndicators: {
      enabled: true,
      // RFC 8707 §2: a host with one MCP server needs no `resource`; otherwise it must be named.
      defaultResource: (_ctx: unknown, _client: unknown, oneOf?: string[]) => oneOf ?? only,
      useGrantedResource: () => true,
      getResourceServerInfo: (_ctx: unknown, indicator: string) => {
        if (!resources.has(indicator)) {
          throw new errors.InvalidTarget('resource is not an MCP server of this host');
        }
        return {
          scope: MCP_SCOPE,
          audience: indicator,
          accessTokenFormat: 'opaque',
          accessTokenTTL: lifetimes.accessToken,
        };
      },
    },
    clientIdMetadataDocument:
      allowedClientIdDomains.length > 0
        ? {
            enabled: true,
            ack: CIMD_ACK,
            allowFetch: (_ctx: unknown, id: string) =>
              hostAllowed(new URL(id).hostname, allowedClientIdDomains),
            allowClient: (_ctx: unknown, client: ClientInstance) =>
              checkRedirectUris(client.redirectUris) === undefined,
          }
        : { enabled: false },
  };
}

function ttl(lifetimes: Lifetimes): Record<string, number> {
  return {
    AccessToken: lifetimes.accessToken,
    AuthorizationCode: lifetimes.code,
    RefreshToken: lifetimes.refreshToken,
    Grant: lifetimes.grant,
    Interaction: lifetimes.interaction,
    Session: lifetimes.interaction,
    IdToken: lifetimes.accessToken,
  };
}

/**
 * RFC 8707 §2.2: a refresh may name only the resource its grant was for, and a single one.
 * Refused here, the refresh token stays good: a client that named the wrong MCP server (or
 * one spelled otherwise than `resource-indicator.ts` accepts) refreshes again, instead of
 * having its next, correct refresh taken for a replay that revokes the grant.
 */
function checkRefreshResource(ctx: ProviderContext, errors: OidcErrors): void {
  const requested = ctx.oidc.params?.resource;
  // None: the provider uses the grant's own (`useGrantedResource`).
  if (requested === undefined || requested === '') return;
  const granted = ctx.oidc.entities?.RefreshToken?.resourceIndicators;
  if (typeof requested !== 'string' || granted === undefined || !granted.has(requested)) {
    throw new errors.InvalidTarget('the refresh token was not issued for this resource');
  }
}

/**
 * RFC 7009 §2.1: a token issued to another client is not revoked, and "the client is informed
 * of the error", public clients too (oidc-provider's default answers a public client 200, as
 * for an unknown token, and a confidential one `invalid_request`). RFC 7009 §2.2.1 takes its
 * codes from RFC 6749 §5.2, where `invalid_grant` is the one for a grant or refresh token
 * "issued to another client": the same answer for both kinds of client. It tells a caller no
 * more than the token's resource server already would (a live token works there).
 */
function revocationAllowed(errors: OidcErrors) {
  return (_ctx: unknown, client: ClientInstance, token: { clientId?: string }): boolean => {
    if (token.clientId !== client.clientId) {
      throw new errors.InvalidGrant('the token was not issued to this client');
    }
    return true;
  };
}

/** oidc-provider's error page (an authorization error before a redirect URI is trusted). */
function renderError(ctx: ProviderContext, out: { error_description?: string }): void {
  ctx.type = 'html';
  ctx.set(pageHeaders());
  ctx.body = renderErrorPage({
    title: 'Authorization failed',
    message: out.error_description ?? 'The authorization request is invalid.',
  }).value;
}
