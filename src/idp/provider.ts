/**
 * The built-in identity provider: oidc-provider serving `<gateway origin>/.pomerium/idp`,
 * with the gateway as its one confidential client. The gateway signs in through it with the
 * same relying-party code as through any external provider.
 *
 * Its login sessions, codes and refresh tokens live in the gateway's storage (`OAuthStore`), so
 * they survive restarts and are shared by replicas. The signing key and client secret derive
 * from `shared_secret`, so they are stable too without being stored.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { BuiltinUser } from '../config/types.js';
import { deriveKey } from '../core/crypto.js';
import { IDP_COOKIE_NAMES } from '../core/gateway-cookies.js';
import type { RelyingPartyOptions } from '../session/oidc.js';
import type { SessionLogger } from '../session/manager.js';
import type { Storage } from '../storage/types.js';
import { renderError } from '../web/error-page.js';
import { trusted } from '../web/html.js';
import { pageHeaders } from '../web/respond.js';
import { renderSignedOut, renderSignOutConfirm } from '../web/signin-page.js';
import { createStaticClientsAdapterFactory } from '../oidc/adapter.js';
import { AccountDirectory } from './accounts.js';
import { endLoginSession } from './end-session.js';
import { SignInInteraction } from './interactions.js';
import { deriveSigningJwk } from '../oidc/keys.js';
import { DEFAULT_LOCKOUT, LoginGuard, type LockoutPolicy } from './lockout.js';
import { mountProvider } from '../oidc/mount.js';
import { answerStorageUnavailable } from '../oidc/unavailable.js';
import {
  loadOidcProvider,
  type OidcProvider,
  type ProviderContext,
} from '../oidc/provider-module.js';

export const IDP_PATH_PREFIX = '/.pomerium/idp';
export const GATEWAY_CLIENT_ID = 'portcullis-gateway';
export const IDP_SCOPES = ['openid', 'profile', 'email', 'offline_access'] as const;

export interface BuiltinIdpOptions {
  /** The gateway's public origin (`http://localhost:8080`); the issuer is `<origin>/.pomerium/idp`. */
  readonly gatewayOrigin: string;
  /** The gateway's callback, `<origin or authenticate_service_url>/oauth2/callback`. */
  readonly redirectUri: string;
  /** Default: `<redirectUri origin>/`. */
  readonly postLogoutRedirectUri?: string;
  readonly storage: Pick<Storage, 'users' | 'loginAttempts' | 'oauth'>;
  /** `builtin_users` from the config. */
  readonly users: readonly BuiltinUser[];
  readonly sharedSecret: string;
  readonly cookieSecret: string;
  readonly logger: SessionLogger;
  readonly clock?: () => number;
  readonly lockout?: LockoutPolicy;
  /** The client address for rate limits; default the socket's peer address. */
  readonly clientIp?: (req: IncomingMessage) => string;
  /**
   * Route hosts a sign-in may end on: the sign-in form's redirects lead on to them (a
   * hand-off across hosts), and CSP's `form-action` covers redirects.
   */
  readonly handoffOrigins?: readonly string[];
}

export interface BuiltinIdp {
  readonly issuer: string;
  readonly pathPrefix: string;
  /** Serves every request whose path starts with `pathPrefix`. */
  handle(req: IncomingMessage, res: ServerResponse): Promise<void>;
  /** What `createRelyingParty` needs to sign in through this provider. */
  readonly relyingParty: RelyingPartyOptions;
  /**
   * Ends the login session (and grant) the gateway's `refreshToken` was issued under, for a
   * sign-out (`end-session.ts`); true when there was one.
   */
  endSession(refreshToken: string): Promise<boolean>;
}

const HOUR = 3600;

export async function createBuiltinIdp(options: BuiltinIdpOptions): Promise<BuiltinIdp> {
  const Provider = await loadOidcProvider();
  const origin = new URL(options.gatewayOrigin).origin;
  const issuer = origin + IDP_PATH_PREFIX;
  const clientSecret = deriveKey(options.sharedSecret, 'idp-client-secret').toString('base64url');
  const formActions = [
    ...new Set([new URL(options.redirectUri).origin, ...(options.handoffOrigins ?? [])]),
  ].filter((o) => o !== origin);
  const accounts = new AccountDirectory(options.users, options.storage.users);
  const provider: OidcProvider = new Provider(
    issuer,
    idpConfiguration(options, { clientSecret, formActions, accounts }),
  );
  provider.on('server_error', (ctx, err) => {
    if (answerStorageUnavailable(ctx as ProviderContext, err)) {
      options.logger.warn({ err: (err as Error).message }, 'storage unavailable: answered 503');
      return;
    }
    options.logger.error({ err }, 'built-in IdP error');
  });
  const serve = mountProvider(provider, IDP_PATH_PREFIX);
  const interaction = new SignInInteraction({
    provider,
    prefix: IDP_PATH_PREFIX,
    accounts,
    guard: new LoginGuard(
      options.storage.loginAttempts,
      options.lockout ?? DEFAULT_LOCKOUT,
      options.clock,
    ),
    formActions,
    clientIp: options.clientIp ?? ((req) => req.socket.remoteAddress ?? 'unknown'),
    logger: options.logger,
  });
  return {
    issuer,
    pathPrefix: IDP_PATH_PREFIX,
    async handle(req, res) {
      const path = (req.url ?? '/').split('?')[0] ?? '/';
      const uid = INTERACTION_PATH.exec(path)?.[1];
      if (uid !== undefined) return interaction.handle(req, res, uid);
      return serve(req, res);
    },
    relyingParty: {
      issuerUrl: issuer,
      clientId: GATEWAY_CLIENT_ID,
      clientSecret,
      scopes: [...IDP_SCOPES],
      redirectUri: options.redirectUri,
      tokenEndpointAuthMethod: 'client_secret_basic',
    },
    endSession: (refreshToken) => endLoginSession(provider, options.storage.oauth, refreshToken),
  };
}

const INTERACTION_PATH = new RegExp(
  `^${IDP_PATH_PREFIX.replace(/\./g, '\\.')}/interaction/([\\w-]+)$`,
);

interface IdpParts {
  readonly clientSecret: string;
  /** Origins besides the gateway's its pages' forms may lead to (the callback's). */
  readonly formActions: readonly string[];
  readonly accounts: AccountDirectory;
}

/** The configuration object of the built-in provider (`new Provider(issuer, configuration)`). */
function idpConfiguration(options: BuiltinIdpOptions, parts: IdpParts): Record<string, unknown> {
  const page = (ctx: ProviderContext, body: string) => setPage(ctx, body, parts.formActions);
  return {
    // Sign-in sessions, codes and refresh tokens in our storage: they survive restarts and are
    // shared by replicas, stored like the MCP server's (token values only as hashes).
    adapter: createStaticClientsAdapterFactory(options.storage.oauth, options.clock),
    clients: [gatewayClient(options, parts.clientSecret)],
    jwks: { keys: [deriveSigningJwk(options.sharedSecret)] },
    cookies: {
      keys: [deriveKey(options.cookieSecret, 'idp-cookies').toString('base64url')],
      // oidc-provider's defaults (`_session`…) are common names; ours are never proxied.
      names: IDP_COOKIE_NAMES,
    },
    scopes: [...IDP_SCOPES],
    claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name', 'groups'] },
    // The ID token carries email, name and groups, as Pomerium expects of providers.
    conformIdTokenClaims: false,
    responseTypes: ['code'],
    pkce: { required: () => true },
    clientBasedCORS: () => false,
    features: {
      devInteractions: { enabled: false },
      revocation: { enabled: true },
      rpInitiatedLogout: {
        enabled: true,
        logoutSource: (ctx: ProviderContext, form: string) =>
          page(ctx, renderSignOutConfirm({ form: trusted(form), formId: 'op.logoutForm' }).value),
        postLogoutSuccessSource: (ctx: ProviderContext) => page(ctx, renderSignedOut().value),
      },
    },
    interactions: {
      url: (_ctx: unknown, interaction: { uid: string }) =>
        `${IDP_PATH_PREFIX}/interaction/${interaction.uid}`,
    },
    findAccount: (_ctx: unknown, sub: string) => findAccount(parts.accounts, sub),
    loadExistingGrant,
    // The gateway gets refresh tokens without `prompt=consent` (which offline_access needs).
    issueRefreshToken: async (
      _ctx: unknown,
      client: { clientId: string; grantTypeAllowed(t: string): boolean },
    ) => client.clientId === GATEWAY_CLIENT_ID && client.grantTypeAllowed('refresh_token'),
    renderError: (ctx: ProviderContext, out: { error_description?: string }) => {
      ctx.type = 'html';
      page(
        ctx,
        renderError({
          title: 'Sign-in failed',
          message: out.error_description ?? 'The sign-in request is invalid. Start again.',
        }).value,
      );
    },
    ttl: TTL,
  };
}

/** The provider's one client: the gateway, signing users in at its callback. */
function gatewayClient(options: BuiltinIdpOptions, clientSecret: string) {
  return {
    client_id: GATEWAY_CLIENT_ID,
    client_secret: clientSecret,
    redirect_uris: [options.redirectUri],
    post_logout_redirect_uris: [
      options.postLogoutRedirectUri ?? new URL('/', options.redirectUri).href,
    ],
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_basic',
    id_token_signed_response_alg: 'ES256',
  };
}

/** Seconds. */
const TTL = {
  AccessToken: HOUR,
  AuthorizationCode: 60,
  IdToken: HOUR,
  Interaction: 10 * 60,
  Session: 14 * HOUR,
  Grant: 14 * HOUR,
  RefreshToken: 14 * HOUR,
};

/** One of our pages as the provider's answer. */
function setPage(ctx: ProviderContext, body: string, formActions: readonly string[]): void {
  ctx.set(pageHeaders(formActions));
  ctx.body = body;
}

/** A built-in user as the provider's account: the email is the subject. */
async function findAccount(accounts: AccountDirectory, sub: string) {
  const account = await accounts.find(sub);
  if (account === undefined) return undefined;
  return {
    accountId: account.email,
    claims: () => ({
      sub: account.email,
      email: account.email,
      email_verified: true,
      name: account.name ?? undefined,
      groups: [...account.groups],
    }),
  };
}

/** Consent is implied for the gateway, the provider's only (first-party) client. */
async function loadExistingGrant(ctx: ProviderContext) {
  const { oidc } = ctx;
  const client = oidc.client;
  const accountId = oidc.session?.accountId;
  if (client === undefined || accountId === undefined) return undefined;
  const grantId = oidc.result?.consent?.grantId ?? oidc.session?.grantIdFor(client.clientId);
  if (grantId) {
    const found = await oidc.provider.Grant.find(grantId);
    if (found) return found;
  }
  if (client.clientId !== GATEWAY_CLIENT_ID) return undefined;
  const grant = new oidc.provider.Grant({ accountId, clientId: client.clientId });
  grant.addOIDCScope(IDP_SCOPES.join(' '));
  grant.addOIDCClaims(['email', 'email_verified', 'name', 'groups']);
  await grant.save();
  return grant;
}
