/**
 * The gateway as an OpenID Connect relying party (OIDC Core 1.0 §3.1, code flow + PKCE
 * S256, RFC 7636), on openid-client 6. The same code signs users in through an external
 * provider and through the built-in one. Discovery runs on first use, is cached, and is
 * retried on the next use when it failed (the provider may start after the gateway).
 */
import * as client from 'openid-client';

export interface RelyingPartyOptions {
  /** The provider's issuer identifier (discovery at `<issuer>/.well-known/openid-configuration`). */
  readonly issuerUrl: string;
  readonly clientId: string;
  /** Null: a public client (PKCE only). */
  readonly clientSecret: string | null;
  /** Default `openid profile email offline_access`. */
  readonly scopes?: readonly string[];
  /** `<origin>/oauth2/callback`, as registered at the provider. */
  readonly redirectUri: string;
  /** Default `client_secret_basic` with a secret, `none` without. */
  readonly tokenEndpointAuthMethod?: 'client_secret_basic' | 'client_secret_post' | 'none';
  readonly fetch?: typeof fetch;
  /** Allow plain-HTTP requests to the provider. Default: only for a loopback http issuer. */
  readonly allowInsecureRequests?: boolean;
  /** Per-request timeout, seconds (openid-client's default is 30). */
  readonly timeoutSeconds?: number;
  /** Timeout of the revocation request at sign-out, seconds. Default 3: sign-out waits for it. */
  readonly revocationTimeoutSeconds?: number;
}

/** What a successful code exchange or refresh yields. */
export interface IdpTokens {
  readonly sub: string;
  /**
   * ID-token claims, completed by the userinfo response (OIDC Core §5.3.2: same `sub`).
   * Null after a refresh that returned neither an ID token nor userinfo (keep the old ones).
   */
  readonly claims: Readonly<Record<string, unknown>> | null;
  /** Null when the provider issued none (refresh keeps the previous one in that case). */
  readonly refreshToken: string | null;
  readonly idToken: string | null;
  /** Seconds until the access token expires, when the provider said. */
  readonly expiresIn: number | undefined;
}

export interface AuthorizationRequest {
  readonly state: string;
  readonly nonce: string;
  readonly codeChallenge: string;
}

export interface CallbackChecks {
  readonly pkceCodeVerifier: string;
  readonly expectedState: string;
  readonly expectedNonce: string;
}

export interface OidcRelyingParty {
  readonly issuerUrl: string;
  readonly clientId: string;
  readonly redirectUri: string;
  authorizationUrl(request: AuthorizationRequest): Promise<URL>;
  /** Validates the authorization response at `callbackUrl` and redeems its code. */
  exchangeCode(callbackUrl: URL, checks: CallbackChecks): Promise<IdpTokens>;
  /** Throws `client.ResponseBodyError` when the provider refused the refresh token. */
  refresh(refreshToken: string, expectedSub: string): Promise<IdpTokens>;
  /**
   * Revokes a refresh token at the provider's `revocation_endpoint` (RFC 7009 §2.1), within
   * `revocationTimeoutSeconds`; false when the provider has no such endpoint. Throws when the
   * request fails or times out.
   */
  revokeRefreshToken(refreshToken: string): Promise<boolean>;
  /** The provider's RP-initiated logout URL, or undefined when it has none. */
  endSessionUrl(params: {
    postLogoutRedirectUri: string;
    idTokenHint?: string | undefined;
  }): Promise<URL | undefined>;
}

/** A provider response that passed the protocol checks but is unusable for a session. */
export class IdpResponseError extends Error {
  constructor(
    readonly code: 'ERR_IDP_NO_ID_TOKEN' | 'ERR_IDP_SUBJECT_MISMATCH',
    message: string,
  ) {
    super(message);
    this.name = 'IdpResponseError';
  }
}

const DEFAULT_SCOPES = ['openid', 'profile', 'email', 'offline_access'];

function isLoopback(url: URL): boolean {
  const host = url.hostname.replace(/^\[|\]$/g, '');
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
}

function insecureAllowed(issuer: URL, options: RelyingPartyOptions): boolean {
  return options.allowInsecureRequests ?? (issuer.protocol === 'http:' && isLoopback(issuer));
}

function clientAuth(options: RelyingPartyOptions): client.ClientAuth {
  const method =
    options.tokenEndpointAuthMethod ??
    (options.clientSecret === null ? 'none' : 'client_secret_basic');
  if (method === 'none') return client.None();
  if (options.clientSecret === null) {
    throw new TypeError(`createRelyingParty: ${method} needs a client secret`);
  }
  return method === 'client_secret_post'
    ? client.ClientSecretPost(options.clientSecret)
    : client.ClientSecretBasic(options.clientSecret);
}

export function createRelyingParty(options: RelyingPartyOptions): OidcRelyingParty {
  const issuer = new URL(options.issuerUrl);
  const scope = (options.scopes?.length ? options.scopes : DEFAULT_SCOPES).join(' ');
  const configuration = discoveryOnce(issuer, options);
  const revocation = boundedOnce(configuration, issuer, options);

  return {
    issuerUrl: issuer.href,
    clientId: options.clientId,
    redirectUri: options.redirectUri,

    async authorizationUrl(request) {
      const config = await configuration();
      return client.buildAuthorizationUrl(config, {
        redirect_uri: options.redirectUri,
        response_type: 'code',
        scope,
        state: request.state,
        nonce: request.nonce,
        code_challenge: request.codeChallenge,
        code_challenge_method: 'S256',
      });
    },

    async exchangeCode(callbackUrl, checks) {
      const config = await configuration();
      const tokens = await client.authorizationCodeGrant(config, callbackUrl, {
        pkceCodeVerifier: checks.pkceCodeVerifier,
        expectedState: checks.expectedState,
        expectedNonce: checks.expectedNonce,
        idTokenExpected: true,
      });
      return completeTokens(config, tokens, undefined);
    },

    async refresh(refreshToken, expectedSub) {
      const config = await configuration();
      const tokens = await client.refreshTokenGrant(config, refreshToken);
      return completeTokens(config, tokens, expectedSub);
    },

    async revokeRefreshToken(refreshToken) {
      const config = await revocation();
      if (!config.serverMetadata().revocation_endpoint) return false;
      // RFC 7009 §2.1: revoking the refresh token should revoke the access tokens of its grant.
      await client.tokenRevocation(config, refreshToken, { token_type_hint: 'refresh_token' });
      return true;
    },

    async endSessionUrl({ postLogoutRedirectUri, idTokenHint }) {
      const config = await configuration();
      if (!config.serverMetadata().end_session_endpoint) return undefined;
      // OIDC RP-Initiated Logout 1.0 §2: id_token_hint names the session to end (without it
      // many providers ask the user to confirm); client_id identifies us when there is none.
      return client.buildEndSessionUrl(config, {
        client_id: options.clientId,
        post_logout_redirect_uri: postLogoutRedirectUri,
        ...(idTokenHint === undefined ? {} : { id_token_hint: idTokenHint }),
      });
    },
  };
}

/**
 * The provider's configuration, discovered on first use and cached; a failed discovery is
 * retried on the next use (the provider may start after the gateway).
 */
function discoveryOnce(
  issuer: URL,
  options: RelyingPartyOptions,
): () => Promise<client.Configuration> {
  const insecure = insecureAllowed(issuer, options);
  const auth = clientAuth(options);
  let pending: Promise<client.Configuration> | undefined;
  return () => {
    pending ??= client
      .discovery(issuer, options.clientId, undefined, auth, {
        ...(insecure ? { execute: [client.allowInsecureRequests] } : {}),
        ...(options.fetch ? { [client.customFetch]: options.fetch } : {}),
        ...(options.timeoutSeconds ? { timeout: options.timeoutSeconds } : {}),
      })
      .catch((err: unknown) => {
        pending = undefined;
        throw err;
      });
    return pending;
  };
}

/**
 * The discovered configuration again, with its own request timeout, made once: for requests
 * that must not hold up the user for openid-client's usual 30 s.
 */
function boundedOnce(
  configuration: () => Promise<client.Configuration>,
  issuer: URL,
  options: RelyingPartyOptions,
): () => Promise<client.Configuration> {
  let bounded: client.Configuration | undefined;
  return async () => {
    if (bounded !== undefined) return bounded;
    const config = await configuration();
    const copy = new client.Configuration(
      config.serverMetadata(),
      options.clientId,
      config.clientMetadata(),
      clientAuth(options),
    );
    if (insecureAllowed(issuer, options)) client.allowInsecureRequests(copy);
    if (options.fetch) copy[client.customFetch] = options.fetch;
    copy.timeout = options.revocationTimeoutSeconds ?? 3;
    bounded = copy;
    return copy;
  };
}

/** A token response as the session keeps it: subject checked, claims completed by userinfo. */
async function completeTokens(
  config: client.Configuration,
  tokens: client.TokenEndpointResponse & client.TokenEndpointResponseHelpers,
  expectedSub: string | undefined,
): Promise<IdpTokens> {
  const idClaims = tokens.claims();
  const sub = idClaims?.sub ?? expectedSub;
  if (sub === undefined) {
    throw new IdpResponseError('ERR_IDP_NO_ID_TOKEN', 'the provider returned no ID token');
  }
  if (expectedSub !== undefined && sub !== expectedSub) {
    // OIDC Core §12.2: a refreshed ID token must name the same subject.
    throw new IdpResponseError(
      'ERR_IDP_SUBJECT_MISMATCH',
      'the refreshed ID token names another subject',
    );
  }
  let userinfo: Record<string, unknown> | undefined;
  if (config.serverMetadata().userinfo_endpoint) {
    userinfo = await client.fetchUserInfo(config, tokens.access_token, sub);
  }
  const fresh = idClaims !== undefined || userinfo !== undefined;
  return {
    sub,
    claims: fresh ? { ...idClaims, ...userinfo, sub } : null,
    refreshToken: tokens.refresh_token ?? null,
    idToken: tokens.id_token ?? null,
    expiresIn: tokens.expiresIn(),
  };
}
