/** What a `SessionManager` is built from, and the sign-in entry point others are given. */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { OAuthStore, Storage } from '../storage/types.js';
import type { SignInHosts } from './hosts.js';
import type { OidcRelyingParty } from './oidc.js';
import type { SessionLogger } from './refresh.js';

export interface SessionManagerOptions {
  readonly storage: Pick<Storage, 'sessions'>;
  readonly cookieSecret: string;
  readonly sharedSecret: string;
  /** True behind TLS: cookies get `Secure` and the `__Host-` prefix. */
  readonly secureCookies: boolean;
  readonly idp: OidcRelyingParty;
  /** Milliseconds since the epoch; injectable for tests. */
  readonly clock?: () => number;
  readonly logger: SessionLogger;
  /** A session's whole life, whatever the provider says (Pomerium's `cookie_expire`). Default 14 h. */
  readonly sessionTtlMs?: number;
  /** Refresh the provider's tokens this long before they expire. Default 60 s. */
  readonly refreshMarginMs?: number;
  /** Provider token life assumed when the token response gives no `expires_in`. Default 1 h. */
  readonly defaultIdpTokenTtlMs?: number;
  /** How long a sign-in may take at the provider. Default 10 min. */
  readonly loginStateTtlMs?: number;
  /** Where the provider sends the user after RP-initiated logout. Default `<callback origin>/`. */
  readonly postLogoutRedirectUri?: string;
  /**
   * Ends the provider's login session behind a session being signed out, given the session's
   * refresh token from it, when the provider is part of the gateway (the built-in one); true when
   * it did. Sign-out then does not send the browser to the provider's `end_session_endpoint`.
   */
  readonly endProviderSession?: (refreshToken: string) => Promise<boolean>;
  /** Route hosts other than the authenticate host: they sign in by hand-off (`handoff.ts`). */
  readonly crossHost?: {
    readonly hosts: SignInHosts;
    readonly oauth: Pick<OAuthStore, 'upsert' | 'find' | 'consume'>;
    /** The hand-off's clock (its requests and codes); injectable for tests. */
    readonly clock?: () => number;
  };
}

/** Sends a browser to sign in, back to `returnTo` (a path on this host) afterwards. */
export type StartSignIn = (
  req: IncomingMessage,
  res: ServerResponse,
  returnTo: string,
) => Promise<void>;
