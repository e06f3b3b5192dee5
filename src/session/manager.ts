/**
 * Browser sessions: sign-in through an OIDC provider, the session cookie, refresh of the
 * provider's tokens, sign-out. Handlers are node:http level so the gateway edge mounts them
 * as they are. The cookie carries only a random session id, sealed; storage keeps its
 * SHA-256, so a leaked database row cannot be turned into a cookie.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import * as client from 'openid-client';
import { randomId, sha256Hex } from '../core/crypto.js';
import type { SessionRecord } from '../storage/types.js';
import { sendJson } from '../core/respond.js';
import { CookieCodec } from './cookie-codec.js';
import { appendSetCookie, serializeCookie } from './cookies.js';
import { checkProviderError, NOT_SIGNED_IN, sendSignInFailure, SignInError } from './errors.js';
import { HostHandoff } from './handoff.js';
import { identityFromClaims } from './identity.js';
import type { IdpTokens } from './oidc.js';
import type { SessionManagerOptions } from './manager-options.js';
import { ProviderLogout } from './provider-logout.js';
import { SessionRefresher } from './refresh.js';
import { safeReturnTo } from './return-to.js';
import { sameOriginPost, sendSignOutConfirm, sendSignOutRefused } from './sign-out.js';

export type { SessionLogger } from './refresh.js';
export type { SessionManagerOptions, StartSignIn } from './manager-options.js';

const HOUR = 3_600_000;

export class SessionManager {
  private readonly cookies: CookieCodec;
  private readonly refresher: SessionRefresher;
  private readonly providerLogout: ProviderLogout;
  private readonly now: () => number;
  private readonly sessionTtlMs: number;
  private readonly refreshMarginMs: number;
  private readonly loginStateTtlMs: number;
  /** Sign-in across hosts, when some route host is not the authenticate host. */
  readonly handoff: HostHandoff | undefined;

  constructor(private readonly options: SessionManagerOptions) {
    this.cookies = new CookieCodec(options.cookieSecret, options.secureCookies);
    this.now = options.clock ?? Date.now;
    this.sessionTtlMs = options.sessionTtlMs ?? 14 * HOUR;
    this.refreshMarginMs = options.refreshMarginMs ?? 60_000;
    this.refresher = new SessionRefresher({
      sessions: options.storage.sessions,
      idp: options.idp,
      sharedSecret: options.sharedSecret,
      now: this.now,
      logger: options.logger,
      defaultIdpTtlMs: options.defaultIdpTokenTtlMs ?? HOUR,
    });
    this.providerLogout = new ProviderLogout({
      idp: options.idp,
      refresher: this.refresher,
      logger: options.logger,
      postLogoutRedirectUri:
        options.postLogoutRedirectUri ?? new URL('/', options.idp.redirectUri).href,
      endProviderSession: options.endProviderSession,
    });
    this.loginStateTtlMs = options.loginStateTtlMs ?? 600_000;
    this.handoff = options.crossHost && this.buildHandoff(options.crossHost);
  }

  private buildHandoff(crossHost: NonNullable<SessionManagerOptions['crossHost']>) {
    return new HostHandoff({
      hosts: crossHost.hosts,
      oauth: crossHost.oauth,
      sharedSecret: this.options.sharedSecret,
      secure: this.options.secureCookies,
      now: crossHost.clock ?? this.now,
      logger: this.options.logger,
      session: {
        current: async (req) => {
          const id = this.cookies.readSessionId(req);
          const record = id === undefined ? undefined : await this.authenticate(req);
          return id === undefined || record === undefined ? undefined : { id, record };
        },
        adopt: async (res, id) => {
          const now = this.now();
          const record = await this.options.storage.sessions.get(sha256Hex(id), now);
          if (record === undefined) return undefined;
          // This host's cookie ends with the session, not a full session life from now.
          appendSetCookie(res, this.cookies.sessionSetCookie(id, (record.expiresAt - now) / 1000));
          return record;
        },
        startLocal: (_req, res, returnTo) => this.startLocalSignIn(res, returnTo),
      },
    });
  }

  /** The name of the session cookie (`__Host-portcullis_session` behind TLS). */
  get sessionCookieName(): string {
    return this.cookies.sessionCookie;
  }

  /** The request's live session, refreshing the provider's tokens when they are about to expire. */
  async authenticate(req: IncomingMessage): Promise<SessionRecord | undefined> {
    const opened = this.cookies.readSession(req);
    if (opened === undefined) return undefined;
    const now = this.now();
    const record = await this.options.storage.sessions.get(opened.idHash, now);
    if (record === undefined) return undefined;
    const due = now >= record.idpExpiresAt - this.refreshMarginMs;
    // Tokens that outlive the session need no refresh: the session ends first.
    if (record.idpRefreshTokenEnc === null || !due || record.idpExpiresAt >= record.expiresAt) {
      return record;
    }
    return this.refresher.refreshOnce(record);
  }

  /**
   * Sends the browser to sign in: to the provider (302) from the authenticate host, or from
   * another route host to the authenticate host first. `returnTo` is kept only when it is a
   * same-origin path.
   */
  async startSignIn(req: IncomingMessage, res: ServerResponse, returnTo: string): Promise<void> {
    const target = this.handoff?.remoteOrigin(req);
    if (this.handoff && target !== undefined) return this.handoff.start(res, returnTo, target);
    return this.startLocalSignIn(res, returnTo);
  }

  private async startLocalSignIn(res: ServerResponse, returnTo: string): Promise<void> {
    const state = client.randomState();
    const nonce = client.randomNonce();
    const codeVerifier = client.randomPKCECodeVerifier();
    let location: URL;
    try {
      const codeChallenge = await client.calculatePKCECodeChallenge(codeVerifier);
      location = await this.options.idp.authorizationUrl({ state, nonce, codeChallenge });
    } catch (err) {
      const e = new SignInError(
        'ERR_IDP_UNAVAILABLE',
        502,
        'The identity provider cannot be reached right now. Try again in a moment.',
        'discovery or authorization URL failed',
        { cause: err },
      );
      return this.renderFailure(res, e);
    }
    const login = {
      state,
      nonce,
      codeVerifier,
      returnTo: safeReturnTo(returnTo),
      expiresAt: this.now() + this.loginStateTtlMs,
    };
    appendSetCookie(
      res,
      serializeCookie(this.cookies.loginStateCookie(state), this.cookies.sealLoginState(login), {
        secure: this.options.secureCookies,
        maxAge: this.loginStateTtlMs / 1000,
      }),
    );
    res.writeHead(302, { location: location.href, 'cache-control': 'no-store' });
    res.end();
  }

  /** `GET /oauth2/callback`: the provider's authorization response (RFC 6749 §4.1.2). */
  async handleCallback(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const callbackUrl = new URL(req.url ?? '/', this.options.idp.redirectUri);
    const state = callbackUrl.searchParams.get('state') ?? '';
    try {
      const login = this.checkLoginState(req, state);
      // The login state is single-use: cleared whatever happens next.
      this.clearCookie(res, this.cookies.loginStateCookie(state));
      checkProviderError(callbackUrl);
      const tokens = await this.exchange(callbackUrl, login);
      await this.endCurrentSession(req);
      await this.createSession(res, tokens);
      this.options.logger.info({ sub: tokens.sub }, 'signed in');
      res.writeHead(302, { location: login.returnTo, 'cache-control': 'no-store' });
      res.end();
    } catch (err) {
      this.renderFailure(res, err);
    }
  }

  /**
   * `/.pomerium/sign_out` (Pomerium's path): GET shows a confirmation form; only its same-origin
   * POST ends the session here, then at the provider (`provider-logout.ts`).
   */
  async signOut(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (req.method === 'GET' || req.method === 'HEAD') {
      return sendSignOutConfirm(res, await this.providerLogout.endSessionUrl());
    }
    if (req.method !== 'POST') {
      res.writeHead(405, { allow: 'GET, POST' });
      res.end();
      return;
    }
    if (!sameOriginPost(req)) {
      this.options.logger.info(
        { origin: req.headers.origin, fetchSite: req.headers['sec-fetch-site'] },
        'sign-out refused: not a same-origin request',
      );
      return sendSignOutRefused(res);
    }
    const record = await this.takeSignedOutSession(req);
    this.clearCookie(res, this.cookies.sessionCookie);
    const endSession = await this.providerLogout.signOut(record);
    res.writeHead(302, { location: endSession?.href ?? '/', 'cache-control': 'no-store' });
    res.end();
  }

  /** `GET /.pomerium/user`: the signed-in user as JSON, or 401 with the one "not signed in" body. */
  async userInfo(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const session = await this.authenticate(req);
    if (session === undefined) return sendJson(res, 401, NOT_SIGNED_IN);
    const { sub, email, name, groups, claims } = session;
    sendJson(res, 200, { sub, email, name, groups, claims });
  }

  private checkLoginState(req: IncomingMessage, state: string) {
    const login = state === '' ? undefined : this.cookies.readLoginState(req, state);
    if (login === undefined || login.state !== state || login.expiresAt <= this.now()) {
      throw new SignInError(
        'ERR_SIGNIN_STATE',
        400,
        'This sign-in has expired or was already completed. Start again from the page you wanted.',
        login === undefined ? 'no login-state cookie for this state' : 'login state expired',
      );
    }
    return login;
  }

  private async exchange(
    callbackUrl: URL,
    login: { state: string; nonce: string; codeVerifier: string },
  ) {
    try {
      return await this.options.idp.exchangeCode(callbackUrl, {
        pkceCodeVerifier: login.codeVerifier,
        expectedState: login.state,
        expectedNonce: login.nonce,
      });
    } catch (err) {
      throw new SignInError(
        'ERR_SIGNIN_EXCHANGE',
        err instanceof client.ResponseBodyError ? 400 : 502,
        'The identity provider did not confirm your sign-in. Start again.',
        err instanceof Error ? err.message : 'code exchange failed',
        { cause: err },
      );
    }
  }

  private async createSession(res: ServerResponse, tokens: IdpTokens): Promise<void> {
    const sessionId = randomId(32);
    const idHash = sha256Hex(sessionId);
    const now = this.now();
    const claims = tokens.claims ?? { sub: tokens.sub };
    await this.options.storage.sessions.put({
      idHash,
      sub: tokens.sub,
      ...identityFromClaims(claims),
      claims,
      idpRefreshTokenEnc: this.refresher.sealRefreshToken(tokens.refreshToken, idHash),
      idpIdTokenEnc: this.refresher.sealIdToken(tokens.idToken, idHash),
      idpExpiresAt: this.refresher.idpExpiry(now, tokens, now + this.sessionTtlMs),
      createdAt: now,
      expiresAt: now + this.sessionTtlMs,
    });
    appendSetCookie(res, this.cookies.sessionSetCookie(sessionId, this.sessionTtlMs / 1000));
  }

  /** Deletes the request's session for a sign-out; returns it (undefined: none was live). */
  private async takeSignedOutSession(req: IncomingMessage): Promise<SessionRecord | undefined> {
    const id = this.cookies.readSessionId(req);
    if (id === undefined) return undefined;
    const idHash = sha256Hex(id);
    const record = await this.options.storage.sessions.get(idHash, this.now());
    await this.options.storage.sessions.delete(idHash);
    return record;
  }

  private async endCurrentSession(req: IncomingMessage): Promise<void> {
    const id = this.cookies.readSessionId(req);
    if (id !== undefined) await this.options.storage.sessions.delete(sha256Hex(id));
  }

  private clearCookie(res: ServerResponse, name: string): void {
    appendSetCookie(
      res,
      serializeCookie(name, '', { secure: this.options.secureCookies, maxAge: 0 }),
    );
  }

  private renderFailure(res: ServerResponse, err: unknown): void {
    sendSignInFailure(res, err, this.options.logger);
  }
}
