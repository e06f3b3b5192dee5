/**
 * The part of oidc-provider's API we use, typed here because the package ships no type
 * declarations. Loaded lazily: importing it prints a runtime warning on Node 20, which only
 * processes that run a provider should show.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';

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
  addOIDCScope(scope: string): void;
  addOIDCClaims(claims: string[]): void;
  save(): Promise<string>;
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
    new (init: { accountId: string; clientId: string }): GrantInstance;
    find(id: string): Promise<GrantInstance | undefined>;
  };
  on(event: string, listener: (...args: unknown[]) => void): unknown;
}

export type ProviderConstructor = new (
  issuer: string,
  config: Record<string, unknown>,
) => OidcProvider;

let loaded: Promise<ProviderConstructor> | undefined;

export function loadOidcProvider(): Promise<ProviderConstructor> {
  const specifier: string = 'oidc-provider';
  loaded ??= (import(specifier) as Promise<{ default: ProviderConstructor }>).then(
    (m) => m.default,
  );
  return loaded;
}

/**
 * Serves `provider` under `prefix` (e.g. `/.pomerium/idp`) from a plain node:http handler.
 * oidc-provider computes its mount path from `req.originalUrl` minus `req.url`
 * (`lib/helpers/oidc_context.js` `urlFor`), as Express would set them.
 */
export function mountProvider(provider: OidcProvider, prefix: string) {
  const callback = provider.callback();
  return (req: IncomingMessage, res: ServerResponse): Promise<void> =>
    new Promise((resolve) => {
      const url = req.url ?? '/';
      const mounted = req as IncomingMessage & { originalUrl?: string };
      mounted.originalUrl = url;
      req.url = url.slice(prefix.length) || '/';
      res.once('close', resolve);
      res.once('finish', resolve);
      callback(req, res);
    });
}
