/**
 * The part of oidc-provider's API we use, typed here because the package ships no type
 * declarations. Loaded lazily: importing it prints a runtime warning on Node 20, which only
 * processes that run a provider should show.
 */
import type { AsyncLocalStorage } from 'node:async_hooks';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { switchedStorage } from '../core/request-context.js';

export interface ProviderContext {
  readonly host: string;
  type: string;
  body: unknown;
  status: number;
  set(headers: Record<string, string>): void;
  readonly oidc: {
    readonly client?: { readonly clientId: string; grantTypeAllowed(type: string): boolean };
    readonly session?: { readonly accountId?: string; grantIdFor(clientId: string): string };
    readonly result?: { readonly consent?: { readonly grantId?: string } };
    readonly provider: OidcProvider;
    /** The parsed request body (registration: the client metadata). */
    readonly body?: Record<string, unknown>;
    readonly params?: Record<string, unknown>;
    /** The action being served (`discovery`, `authorization`…), set once routing ran. */
    readonly route?: string;
    /** What the request was found to be about, as the action found it. */
    readonly entities?: {
      /** The refresh token presented, once the refresh grant has checked it is the client's. */
      readonly RefreshToken?: { readonly resourceIndicators: ReadonlySet<string> };
      /** The grant a token request was served under (`exp` in seconds). */
      readonly Grant?: { readonly jti: string; readonly accountId: string; readonly exp?: number };
    };
  };
}

export interface InteractionDetails {
  readonly uid: string;
  readonly prompt: { readonly name: string; readonly details: Record<string, unknown> };
  readonly params: Readonly<Record<string, unknown>>;
  readonly session?: { readonly accountId?: string };
  readonly lastSubmission?: Record<string, unknown>;
}

export interface GrantInstance {
  readonly jti?: string;
  addOIDCScope(scope: string): void;
  addOIDCClaims(claims: string[]): void;
  /** RFC 8707: scopes granted for one resource server. */
  addResourceScope(resource: string, scope: string): void;
  save(): Promise<string>;
}

/** An opaque access token as `AccessToken.find` returns it. */
export interface AccessTokenInstance {
  readonly jti: string;
  readonly accountId: string;
  readonly clientId: string;
  readonly grantId: string;
  /** The audience (RFC 8707 resource) it was issued for. */
  readonly aud?: string | readonly string[];
  readonly scope?: string;
  /** Seconds since the epoch. */
  readonly exp: number;
}

/** What an access token is minted with (`AccessToken.IN_PAYLOAD`); `expiresIn` in seconds. */
export interface AccessTokenInit {
  readonly accountId: string;
  readonly clientId: string;
  readonly grantId: string;
  readonly scope: string;
  readonly aud: readonly string[];
  readonly expiresIn: number;
  /** The grant type it came from, as oidc-provider records it. */
  readonly gty?: string;
}

/** A client as oidc-provider models it (camelCase metadata). */
export interface ClientInstance {
  readonly clientId: string;
  readonly clientName?: string;
  readonly clientSecret?: string;
  readonly redirectUris: readonly string[];
  readonly tokenEndpointAuthMethod: string;
  readonly grantTypes: readonly string[];
  /** True when the client came from a Client ID Metadata Document. */
  readonly clientIdMetadataDocument?: boolean;
  grantTypeAllowed(type: string): boolean;
  metadata(): Record<string, unknown>;
}

export interface OidcProvider {
  readonly issuer: string;
  proxy: boolean;
  callback(): (req: IncomingMessage, res: ServerResponse) => void;
  interactionDetails(req: IncomingMessage, res: ServerResponse): Promise<InteractionDetails>;
  interactionFinished(
    req: IncomingMessage,
    res: ServerResponse,
    result: Record<string, unknown>,
    options?: { mergeWithLastSubmission?: boolean },
  ): Promise<void>;
  Grant: {
    /** `expiresIn` (seconds): this grant's own life instead of the configured one. */
    new (init: { accountId: string; clientId: string; expiresIn?: number }): GrantInstance;
    find(id: string): Promise<GrantInstance | undefined>;
  };
  AccessToken: {
    /** A token minted outside a token request (client mode); `save` returns its value. */
    new (init: AccessTokenInit): { save(): Promise<string> };
    find(value: string): Promise<AccessTokenInstance | undefined>;
  };
  RefreshToken: {
    find(
      value: string,
    ): Promise<{ readonly grantId: string; readonly sessionUid?: string } | undefined>;
  };
  /** Login sessions; `uid` is what tokens name theirs by (`sessionUid`). */
  Session: {
    findByUid(uid: string): Promise<{ destroy(): Promise<void> } | undefined>;
  };
  AuthorizationCode: { find(value: string): Promise<{ readonly grantId: string } | undefined> };
  Client: {
    find(id: string): Promise<ClientInstance | undefined>;
    /** Patched by the MCP authorization server to compare hashed secrets. */
    prototype: {
      compareClientSecret(this: ClientInstance, actual: string): boolean | Promise<boolean>;
    };
  };
  on(event: string, listener: (...args: unknown[]) => void): unknown;
  /** A Koa middleware around every request (oidc-provider README, "Pre- and post-middlewares"). */
  use(middleware: (ctx: ProviderContext, next: () => Promise<void>) => Promise<void>): unknown;
  /** Koa's default handler for errors emitted as `error`. */
  onerror(err: unknown): void;
}

/**
 * oidc-provider's storage adapter contract (`lib/adapters/memory_adapter.js`): one instance per
 * model name; `expiresIn` in seconds.
 */
export interface ProviderAdapter {
  upsert(id: string, payload: Record<string, unknown>, expiresIn?: number): Promise<void>;
  find(id: string): Promise<Record<string, unknown> | undefined>;
  findByUid(uid: string): Promise<Record<string, unknown> | undefined>;
  findByUserCode(userCode: string): Promise<Record<string, unknown> | undefined>;
  consume(id: string): Promise<void>;
  destroy(id: string): Promise<void>;
  revokeByGrantId(grantId: string): Promise<void>;
}

export type ProviderConstructor = (new (
  issuer: string,
  config: Record<string, unknown>,
) => OidcProvider) & {
  /**
   * The context of the request a provider is serving now, from any code it calls while serving
   * it (an adapter, a hook), or undefined outside one: oidc-provider runs every route inside an
   * AsyncLocalStorage holding it (`lib/helpers/als.js`, `static get ctx()` in `lib/provider.js`).
   */
  readonly ctx: ProviderContext | undefined;
};

/** oidc-provider's error classes we raise from configuration hooks (`lib/helpers/errors.js`). */
export interface OidcErrors {
  InvalidTarget: new (description?: string) => Error;
  InvalidClient: new (description?: string) => Error;
  InvalidRequest: new (description?: string) => Error;
  InvalidScope: new (description: string, scope: string) => Error;
  /** Answered with a generic description; `detail` goes to the logs only. */
  InvalidGrant: new (detail?: string) => Error;
}

interface OidcProviderModule {
  default: ProviderConstructor;
  errors: OidcErrors;
}

let loaded: Promise<OidcProviderModule> | undefined;

function loadModule(): Promise<OidcProviderModule> {
  const specifier: string = 'oidc-provider';
  loaded ??= Promise.all([
    import(specifier) as Promise<OidcProviderModule>,
    // The storage every provider request runs in (no export names it; its path is stable).
    import(`${specifier}/lib/helpers/als.js`) as Promise<{ default: AsyncLocalStorage<unknown> }>,
  ]).then(([module, als]) => {
    switchedStorage(als.default);
    return module;
  });
  return loaded;
}

export function loadOidcProvider(): Promise<ProviderConstructor> {
  return loadModule().then((m) => m.default);
}

export function loadOidcErrors(): Promise<OidcErrors> {
  return loadModule().then((m) => m.errors);
}
