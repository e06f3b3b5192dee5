/**
 * The two cookies of sign-in, sealed (AES-256-GCM, `src/core/crypto.ts`) with a key derived
 * from `cookie_secret`, and bound to their cookie name through the AAD so one cannot be
 * replayed as the other.
 */
import type { IncomingMessage } from 'node:http';
import { deriveKey, open, seal, sha256Hex } from '../core/crypto.js';
import { cookieName, parseCookies, serializeCookie } from './cookies.js';

/** What the login-state cookie carries between the redirect to the provider and the callback. */
export interface LoginState {
  readonly state: string;
  readonly nonce: string;
  readonly codeVerifier: string;
  readonly returnTo: string;
  /** Milliseconds since the epoch. */
  readonly expiresAt: number;
}

/** A session cookie once opened: the session id and its storage key. */
export interface OpenedSession {
  readonly id: string;
  readonly idHash: string;
}

/** How many opened session cookies are remembered (a few hundred bytes each). */
const OPENED_MAX = 10_000;

export class CookieCodec {
  readonly sessionCookie: string;
  private readonly key: Buffer;
  /**
   * Sealed cookie value → what it opens to. Opening is deterministic (the same bytes always
   * give the same id, or none), so this only saves the AES-GCM open and the hash that every
   * signed-in request would repeat; whether the session is live is still asked of storage.
   */
  private readonly opened = new Map<string, OpenedSession>();

  constructor(
    cookieSecret: string,
    readonly secure: boolean,
  ) {
    this.key = deriveKey(cookieSecret, 'session-cookie');
    this.sessionCookie = cookieName('portcullis_session', secure);
  }

  sealSessionId(sessionId: string): string {
    return seal(this.key, sessionId, this.sessionCookie);
  }

  /** The `Set-Cookie` value of the session cookie carrying `sessionId`. */
  sessionSetCookie(sessionId: string, maxAgeSeconds: number): string {
    return serializeCookie(this.sessionCookie, this.sealSessionId(sessionId), {
      secure: this.secure,
      maxAge: maxAgeSeconds,
    });
  }

  /** The session id from the request's cookie, or undefined when absent or not ours. */
  readSessionId(req: IncomingMessage): string | undefined {
    return this.readSession(req)?.id;
  }

  /** The request's session cookie opened, or undefined when absent or not ours. */
  readSession(req: IncomingMessage): OpenedSession | undefined {
    const value = parseCookies(req).get(this.sessionCookie);
    if (value === undefined) return undefined;
    const known = this.opened.get(value);
    if (known !== undefined) return known;
    let id: string;
    try {
      id = open(this.key, value, this.sessionCookie);
    } catch {
      return undefined; // not remembered: a forged value must not crowd out real ones
    }
    const session = { id, idHash: sha256Hex(id) };
    if (this.opened.size >= OPENED_MAX) this.opened.delete(this.opened.keys().next().value!);
    this.opened.set(value, session);
    return session;
  }

  /**
   * One login-state cookie per flow, named after its state, so sign-ins started in two tabs
   * do not overwrite each other.
   */
  loginStateCookie(state: string): string {
    return cookieName(`portcullis_signin_${sha256Hex(state).slice(0, 16)}`, this.secure);
  }

  sealLoginState(login: LoginState): string {
    const body = JSON.stringify({
      s: login.state,
      n: login.nonce,
      v: login.codeVerifier,
      r: login.returnTo,
      e: login.expiresAt,
    });
    return seal(this.key, body, this.loginStateCookie(login.state));
  }

  /** The login state of the flow named by `state`, or undefined when missing or forged. */
  readLoginState(req: IncomingMessage, state: string): LoginState | undefined {
    const name = this.loginStateCookie(state);
    const value = parseCookies(req).get(name);
    if (value === undefined) return undefined;
    try {
      const o = JSON.parse(open(this.key, value, name)) as Record<string, unknown>;
      const { s, n, v, r, e } = o;
      if (typeof s !== 'string' || typeof n !== 'string' || typeof v !== 'string') return;
      if (typeof r !== 'string' || typeof e !== 'number') return undefined;
      return { state: s, nonce: n, codeVerifier: v, returnTo: r, expiresAt: e };
    } catch {
      return undefined;
    }
  }
}
