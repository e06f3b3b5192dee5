/**
 * The gateway as an OAuth 2.0 client of an upstream provider (Notion, GitHub, a hosted MCP
 * server's authorization server), on openid-client 6: authorization code with PKCE S256 and
 * `state`, code exchange, refresh and revocation. One `UpstreamOAuthClient` per upstream (a
 * route's static `upstream_oauth2`, or a discovered authorization server with the gateway's
 * registration there).
 */
import * as client from 'openid-client';
import type { UpstreamOauth2Config } from '../config/types.js';

/** What a code exchange or a refresh yields. */
export interface UpstreamTokenSet {
  readonly accessToken: string;
  /** Null when the provider sent none (a refresh then keeps the one it had). */
  readonly refreshToken: string | null;
  /** Seconds, when the provider said. */
  readonly expiresIn: number | undefined;
  /** The granted scopes, when the provider said. */
  readonly scopes: readonly string[] | undefined;
}

export interface UpstreamAuthorizationRequest {
  readonly redirectUri: string;
  readonly state: string;
  readonly codeChallenge: string;
  /** Scopes beyond the configured ones (an upstream's `insufficient_scope` names them). */
  readonly extraScopes?: readonly string[];
}

export interface UpstreamOAuthClient {
  /** `<issuer or token_url> <client_id>`: what the user's token is stored under. */
  readonly upstreamKey: string;
  readonly canRevoke: boolean;
  authorizationUrl(request: UpstreamAuthorizationRequest): URL;
  /** Validates the authorization response at `callbackUrl` (state, `iss`) and redeems its code. */
  exchangeCode(
    callbackUrl: URL,
    checks: { readonly codeVerifier: string; readonly state: string; readonly redirectUri: string },
  ): Promise<UpstreamTokenSet>;
  refresh(refreshToken: string): Promise<UpstreamTokenSet>;
  /** RFC 7009, best effort; only when the provider has a revocation endpoint. */
  revoke(token: string, hint: 'access_token' | 'refresh_token'): Promise<void>;
}

export interface ClientOptions {
  readonly fetch?: typeof fetch;
  /** Per-request timeout, seconds. */
  readonly timeoutSeconds?: number;
}

/** A route's `upstream_oauth2` with an `endpoint`: the provider's URLs are the config's. */
export function staticUpstreamClient(
  config: UpstreamOauth2Config,
  endpoint: NonNullable<UpstreamOauth2Config['endpoint']>,
  options: ClientOptions = {},
): UpstreamOAuthClient {
  const { authUrl, tokenUrl, revocationUrl } = endpoint;
  // No discovery, so no issuer: the token URL names the upstream (REFERENCE §10).
  const server: client.ServerMetadata = {
    issuer: new URL(authUrl).origin,
    authorization_endpoint: authUrl,
    token_endpoint: tokenUrl,
    ...(revocationUrl === null ? {} : { revocation_endpoint: revocationUrl }),
  };
  const auth = clientAuth(config.clientSecret, endpoint.authStyle);
  const configuration = new client.Configuration(server, config.clientId, undefined, auth);
  tune(configuration, [authUrl, tokenUrl, ...(revocationUrl ? [revocationUrl] : [])], options);
  return oauthClient(configuration, `${tokenUrl} ${config.clientId}`, {
    scopes: config.scopes,
    params: config.authorizationUrlParams,
    // Without an issuer there is nothing to hold an `iss` in the response against: a provider
    // that sends one (RFC 9207) would fail a check meant for discovered servers. The state is
    // bound to this one upstream, which is what mix-up protection needs.
    dropIss: true,
  });
}

interface Behaviour {
  readonly scopes: readonly string[];
  readonly params: Readonly<Record<string, string>>;
  readonly dropIss: boolean;
  /** RFC 8707 `resource`, always sent to discovered servers. */
  readonly resource?: string;
}

export function oauthClient(
  configuration: client.Configuration,
  upstreamKey: string,
  behaviour: Behaviour,
): UpstreamOAuthClient {
  const { scopes, params, resource } = behaviour;
  return {
    upstreamKey,
    canRevoke: configuration.serverMetadata().revocation_endpoint !== undefined,
    authorizationUrl(request) {
      const scope = [...new Set([...scopes, ...(request.extraScopes ?? [])])].join(' ');
      return client.buildAuthorizationUrl(configuration, {
        ...params,
        ...(resource ? { resource } : {}),
        response_type: 'code',
        redirect_uri: request.redirectUri,
        state: request.state,
        code_challenge: request.codeChallenge,
        code_challenge_method: 'S256',
        ...(scope ? { scope } : {}),
      });
    },
    async exchangeCode(callbackUrl, checks) {
      const url = new URL(callbackUrl);
      if (behaviour.dropIss) url.searchParams.delete('iss');
      const tokens = await client.authorizationCodeGrant(
        configuration,
        url,
        { pkceCodeVerifier: checks.codeVerifier, expectedState: checks.state },
        { redirect_uri: checks.redirectUri, ...(resource ? { resource } : {}) },
      );
      return tokenSet(tokens);
    },
    async refresh(refreshToken) {
      const extra = resource ? { resource } : undefined;
      return tokenSet(await client.refreshTokenGrant(configuration, refreshToken, extra));
    },
    async revoke(token, hint) {
      if (configuration.serverMetadata().revocation_endpoint === undefined) return;
      await client.tokenRevocation(configuration, token, { token_type_hint: hint });
    },
  };
}

/** Plain HTTP to the provider only where the config or the discovery named an http URL. */
export function tune(
  configuration: client.Configuration,
  urls: readonly string[],
  options: ClientOptions,
): void {
  if (urls.some((u) => new URL(u).protocol === 'http:')) {
    client.allowInsecureRequests(configuration);
  }
  if (options.fetch) configuration[client.customFetch] = options.fetch;
  if (options.timeoutSeconds) configuration.timeout = options.timeoutSeconds;
}

/**
 * `auth_style` as Pomerium (Go's oauth2) means it: `header` is HTTP Basic, `params` the secret
 * in the body; unset with a secret is Basic (what Notion needs). No secret: a public client.
 */
export function clientAuth(
  secret: string | null,
  style: 'header' | 'params' | null,
): client.ClientAuth {
  if (secret === null) return client.None();
  return style === 'params' ? client.ClientSecretPost(secret) : basicAuth(secret);
}

/**
 * HTTP Basic with the id and secret form-encoded first (RFC 6749 §2.3.1) the way Go's oauth2
 * does it, leaving RFC 3986's unreserved `-._~` alone. openid-client's own encodes those too,
 * which providers that compare the raw `id:secret` (Notion documents it so: UUID ids, secrets
 * with `_`) refuse as `invalid_client`.
 */
function basicAuth(secret: string): client.ClientAuth {
  return (_as, metadata, _body, headers) => {
    const pair = `${formEncode(metadata.client_id)}:${formEncode(secret)}`;
    headers.set('authorization', `Basic ${Buffer.from(pair, 'utf8').toString('base64')}`);
  };
}

function formEncode(value: string): string {
  return encodeURIComponent(value)
    .replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)
    .replace(/%20/g, '+');
}

function tokenSet(
  tokens: client.TokenEndpointResponse & client.TokenEndpointResponseHelpers,
): UpstreamTokenSet {
  return {
    accessToken: tokens.access_token,
    refreshToken: tokens.refresh_token ?? null,
    expiresIn: tokens.expiresIn(),
    scopes: tokens.scope === undefined ? undefined : tokens.scope.split(' ').filter(Boolean),
  };
}

/**
 * Whether the provider refused (a 4xx OAuth error: the grant is gone) rather than failed (an
 * outage, a timeout, a 5xx: try again later and keep what is stored).
 */
export function providerRefused(err: unknown): boolean {
  if (err instanceof client.AuthorizationResponseError) return true;
  const status =
    err instanceof client.ResponseBodyError || err instanceof client.WWWAuthenticateChallengeError
      ? err.status
      : err instanceof Error && err.cause instanceof Response
        ? err.cause.status // an answer that is no OAuth error body at all
        : undefined;
  return status !== undefined && status >= 400 && status < 500 && status !== 429;
}
