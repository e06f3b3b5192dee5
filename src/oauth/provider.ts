/**
 * One oidc-provider instance per MCP host: the issuer is the host's origin (no path), as
 * Pomerium does, because some clients build `/authorize` and `/token` from the MCP origin.
 * Its configuration is `provider-config.ts`; here is what configuration cannot say: client
 * secrets compared as the hashes they are stored as, the events we log or act on, discovery
 * without `openid`, and how a request is handed to it (`serve`).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { sha256Hex, timingSafeEqualString } from '../core/crypto.js';
import { createAdapterFactory, SECRET_HASH_PREFIX } from '../oidc/adapter.js';
import { mountProvider, type ProviderInput } from '../oidc/mount.js';
import { answerStorageUnavailable } from '../oidc/unavailable.js';
import {
  loadOidcErrors,
  loadOidcProvider,
  type ClientInstance,
  type OidcProvider,
  type ProviderConstructor,
  type ProviderContext,
} from '../oidc/provider-module.js';
import type { SessionLogger } from '../session/manager.js';
import type { OAuthClientStore, OAuthStore } from '../storage/types.js';
import { discoveryWithoutOpenId } from './authorization-request.js';
import { registrationFingerprint } from './client-identity.js';
import { providerConfiguration, type ProviderSettings } from './provider-config.js';

export { DEFAULT_LIFETIMES, type Lifetimes } from './provider-config.js';
export { MCP_PATH_PREFIX, OAUTH_ROUTES } from './routes.js';

export interface McpProviderOptions extends Omit<ProviderSettings, 'adapter' | 'errors'> {
  /** `https://<host>` (the MCP host's origin). */
  readonly issuer: string;
  readonly oauth: OAuthStore;
  readonly clients: OAuthClientStore;
  readonly logger: SessionLogger;
  readonly onDestroyed: (model: string, id: string) => void;
  readonly onGrantRevoked: (grantId: string) => void;
  /** A token request succeeded, under `grant` (absent: the request had none). */
  readonly onTokenIssued: (clientId: string, grant: IssuedUnder | undefined) => void;
}

/** The grant a token was issued under. */
export interface IssuedUnder {
  readonly grantId: string;
  readonly accountId: string;
  /** Milliseconds; null when the grant has no expiry. */
  readonly expiresAt: number | null;
}

export interface McpProvider {
  readonly issuer: string;
  readonly provider: OidcProvider;
  /** Serves a request for one of the provider's own paths, as `input` presents it. */
  serve(req: IncomingMessage, res: ServerResponse, input?: ProviderInput): Promise<void>;
}

export async function createMcpProvider(options: McpProviderOptions): Promise<McpProvider> {
  const Provider = await loadOidcProvider();
  const configuration = providerConfiguration({
    ...options,
    errors: await loadOidcErrors(),
    adapter: createAdapterFactory({
      oauth: options.oauth,
      clients: options.clients,
      clientFingerprint: (stored) =>
        registrationFingerprint(registrationRequest(Provider) ?? stored),
      onDestroyed: options.onDestroyed,
      onGrantRevoked: options.onGrantRevoked,
    }),
  });
  const provider: OidcProvider = new Provider(options.issuer, configuration);
  compareHashedSecrets(provider);
  observe(provider, options);
  provider.use(async (ctx, next) => {
    await next();
    if (ctx.oidc?.route === 'discovery') discoveryWithoutOpenId(ctx);
  });
  provider.proxy = true;
  const mounted = mountProvider(provider, '');
  const issuerUrl = new URL(options.issuer);
  // The provider builds its URLs from the request; make it see the issuer's origin whatever
  // the listener (TLS may end in front of the gateway).
  const forwarded = {
    'x-forwarded-proto': issuerUrl.protocol.slice(0, -1),
    'x-forwarded-host': issuerUrl.host,
    'x-forwarded-port': undefined,
  };
  return {
    issuer: options.issuer,
    provider,
    serve: (req, res, input = {}) => mounted(req, res, { ...input, headers: forwarded }),
  };
}

/**
 * The metadata a client sent with the registration being served: a new client's fingerprint
 * is taken from what it asked for, not from what the provider stores (defaults added, a
 * secret). The provider's context of the running request is where that body is.
 */
function registrationRequest(Provider: ProviderConstructor): Record<string, unknown> | undefined {
  const ctx = Provider.ctx;
  return ctx?.oidc.route === 'registration' ? ctx.oidc.body : undefined;
}

/** Secrets are stored as SHA-256 (`oidc/adapter.ts`); compare the same way, in constant time. */
function compareHashedSecrets(provider: OidcProvider): void {
  provider.Client.prototype.compareClientSecret = function (this: ClientInstance, actual: string) {
    const stored = this.clientSecret ?? '';
    if (!stored.startsWith(SECRET_HASH_PREFIX) || typeof actual !== 'string') return false;
    return timingSafeEqualString(stored, SECRET_HASH_PREFIX + sha256Hex(actual));
  };
}

const LOGGED_ERRORS = [
  'grant.error',
  'authorization.error',
  'registration_create.error',
  'revocation.error',
];

/** Records client use, and logs the provider's refusals (info) and its own failures (error). */
function observe(provider: OidcProvider, options: McpProviderOptions): void {
  provider.on('grant.success', (ctx) => {
    const { client, entities } = (ctx as ProviderContext).oidc;
    const grant = entities?.Grant;
    const under = grant && {
      grantId: grant.jti,
      accountId: grant.accountId,
      expiresAt: grant.exp === undefined ? null : grant.exp * 1000,
    };
    if (client?.clientId) options.onTokenIssued(client.clientId, under);
  });
  provider.on('server_error', (ctx, err) => {
    if (answerStorageUnavailable(ctx as ProviderContext, err)) {
      options.logger.warn({ err: (err as Error).message }, 'storage unavailable: answered 503');
      return;
    }
    options.logger.error({ err }, 'mcp authorization server error');
  });
  for (const event of LOGGED_ERRORS) {
    provider.on(event, (_ctx, err) =>
      options.logger.info({ err: describe(err), issuer: options.issuer }, `oauth ${event}`),
    );
  }
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
