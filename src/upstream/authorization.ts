/**
 * One user's authorization at an upstream provider: the gateway sends the browser there
 * (authorization code, PKCE S256, a random single-use `state`) and takes the answer at its
 * callback. The pending authorization is stored under its `state` (hashed by the store, like
 * every OAuth record) for ten minutes, with its PKCE verifier sealed; it is bound to the
 * gateway session that started it, so a callback URL carried to another browser is refused.
 */
import * as client from 'openid-client';
import { deriveKey, open, seal } from '../core/crypto.js';
import { isObject } from '../core/json.js';
import type { OAuthStore, SessionRecord } from '../storage/types.js';
import type { RouteUpstream } from './catalog.js';
import { tokenKey } from './catalog.js';
import type { UpstreamVault } from './vault.js';

const MODEL = 'UpstreamAuthorization';
const TTL_MS = 10 * 60_000;

interface Pending {
  readonly sessionIdHash: string;
  readonly sub: string;
  readonly routeKey: string;
  readonly upstreamKey: string;
  readonly verifierEnc: string;
  readonly redirectUri: string;
  /** A path on this host (an interaction, the portal) or a checked `redirect_url`. */
  readonly returnTo: string;
  /** The query parameter that carries a failure to `returnTo`. */
  readonly errorParam: string;
}

export type CallbackOutcome =
  | { readonly ok: true; readonly returnTo: string; readonly entry: RouteUpstream }
  | {
      readonly ok: false;
      /** Where to report the failure; absent when the request is not a live authorization. */
      readonly returnTo?: string;
      readonly errorParam?: string;
      readonly entry?: RouteUpstream;
      readonly error: string;
      readonly description: string;
    };

export interface AuthorizerOptions {
  readonly oauth: OAuthStore;
  /** The route's upstream a stored authorization names, when it still has that upstream. */
  readonly find: (routeKey: string, upstreamKey: string) => RouteUpstream | undefined;
  readonly vault: UpstreamVault;
  readonly sharedSecret: string;
  readonly now?: () => number;
}

export class UpstreamAuthorizer {
  private readonly key: Buffer;
  private readonly now: () => number;

  constructor(private readonly options: AuthorizerOptions) {
    this.key = deriveKey(options.sharedSecret, 'portcullis upstream authorization v1');
    this.now = options.now ?? Date.now;
  }

  /** The provider's authorization URL for `session`'s user on `entry`'s route. */
  async begin(
    entry: RouteUpstream,
    session: SessionRecord,
    back: { readonly returnTo: string; readonly errorParam: string },
    extraScopes?: readonly string[],
  ): Promise<URL> {
    const state = client.randomState();
    const verifier = client.randomPKCECodeVerifier();
    const pending: Pending = {
      sessionIdHash: session.idHash,
      sub: session.sub,
      routeKey: entry.routeKey,
      upstreamKey: entry.client.upstreamKey,
      verifierEnc: seal(this.key, verifier, state),
      redirectUri: entry.redirectUri,
      returnTo: back.returnTo,
      errorParam: back.errorParam,
    };
    const now = this.now();
    await this.options.oauth.upsert(MODEL, state, { ...pending }, now + TTL_MS);
    return entry.client.authorizationUrl({
      redirectUri: entry.redirectUri,
      state,
      codeChallenge: await client.calculatePKCECodeChallenge(verifier),
      ...(extraScopes ? { extraScopes } : {}),
    });
  }

  /** The provider's answer at the callback: the code redeemed and the token stored. */
  async complete(callbackUrl: URL, session: SessionRecord | undefined): Promise<CallbackOutcome> {
    const state = callbackUrl.searchParams.get('state');
    if (!state) return refused('invalid_request', 'the provider answered without a state');
    const pending = await this.take(state, session);
    if (pending === 'foreign') {
      return refused('access_denied', 'this connection was started in another sign-in session');
    }
    if (pending === undefined) {
      return refused('invalid_request', 'this connection attempt is unknown, used or expired');
    }
    const entry = this.options.find(pending.routeKey, pending.upstreamKey);
    if (entry === undefined) {
      return refused('invalid_request', 'the route no longer uses this provider');
    }
    const { returnTo, errorParam } = pending;
    const error = callbackUrl.searchParams.get('error');
    if (error !== null) {
      const said = callbackUrl.searchParams.get('error_description');
      const description = `the provider answered ${error}${said ? `: ${said}` : ''}`;
      return { ok: false, returnTo, errorParam, entry, error: 'access_denied', description };
    }
    try {
      const tokens = await entry.client.exchangeCode(callbackUrl, {
        codeVerifier: open(this.key, pending.verifierEnc, state),
        state,
        redirectUri: pending.redirectUri,
      });
      await this.options.vault.save(tokenKey(entry, pending.sub), tokens);
    } catch (err) {
      const description = `the provider did not give a token: ${(err as Error).message}`;
      return { ok: false, returnTo, errorParam, entry, error: 'server_error', description };
    }
    return { ok: true, returnTo, entry };
  }

  /**
   * The pending authorization, consumed: a second use of the same `state` finds nothing. A
   * callback from another session is refused before it consumes anything, so a link carried
   * to someone else neither works there nor spoils the flow of the one who started it.
   */
  private async take(
    state: string,
    session: SessionRecord | undefined,
  ): Promise<Pending | 'foreign' | undefined> {
    const { oauth } = this.options;
    const now = this.now();
    const found = await oauth.find(MODEL, state, now);
    const pending = found?.consumedAt === null ? parsePending(found.payload) : undefined;
    if (pending === undefined) return undefined;
    if (session?.idHash !== pending.sessionIdHash) return 'foreign';
    // Of two callbacks racing past the checks above, only the first consumer goes on.
    if (!(await oauth.consume(MODEL, state, now))) return undefined;
    return pending;
  }
}

function refused(error: string, description: string): CallbackOutcome {
  return { ok: false, error, description };
}

function parsePending(payload: unknown): Pending | undefined {
  if (!isObject(payload)) return undefined;
  const keys = ['sessionIdHash', 'sub', 'routeKey', 'upstreamKey', 'verifierEnc', 'redirectUri'];
  if (!keys.every((k) => typeof payload[k] === 'string')) return undefined;
  if (typeof payload.returnTo !== 'string' || typeof payload.errorParam !== 'string') {
    return undefined;
  }
  return payload as unknown as Pending;
}
