/**
 * Sign-in across hosts (REFERENCE §11, Pomerium's model). Only the authenticate host talks to
 * the identity provider; every route host keeps its own host-only session cookie for the one
 * server-side session behind all of them:
 *
 * 1. A route host with no session (`start`) sets a flow cookie holding a random nonce and sends
 *    the browser to `<authenticate host>/.pomerium/sign_in` with a signed request naming itself,
 *    the return path and the nonce's hash (`handoff-request.ts`).
 * 2. The authenticate host (`signIn`) checks the request, signs the user in when it has no
 *    session yet (a browser signed in there passes straight through), and stores a hand-off:
 *    single-use, 60 s, bound to the target host and the nonce's hash, the session id sealed
 *    under the code. Only the random code travels, to `<route host>/.pomerium/callback/`.
 * 3. The route host (`callback`) consumes the code once, checks that it was made for this host
 *    and for this browser (the flow cookie), and sets its own cookie for the same session.
 *
 * The binding to the flow cookie is what stops login CSRF: a code obtained in the attacker's
 * browser is refused in the victim's, which never had the attacker's nonce. Every refusal is a
 * 400 page; nothing here redirects anywhere but a configured route host or a path on this one.
 */
import { createHash } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { deriveKey, open, randomId, seal, timingSafeEqualString } from '../core/crypto.js';
import { isObject } from '../core/json.js';
import type { OAuthStore, SessionRecord } from '../storage/types.js';
import { appendSetCookie, cookieName, parseCookies, serializeCookie } from './cookies.js';
import { sendSignInFailure, SignInError, type SignInErrorCode } from './errors.js';
import { SignInRequestSigner, type SignInRequest } from './handoff-request.js';
import type { SignInHosts } from './hosts.js';
import type { SessionLogger } from './refresh.js';
import { safeReturnTo } from './return-to.js';

export const SIGN_IN_PATH = '/.pomerium/sign_in';
/** Pomerium's callback path on a route host; the form without the trailing slash is taken too. */
export const HANDOFF_CALLBACK_PATH = '/.pomerium/callback/';

const MODEL = 'SessionHandoff';
const MINUTE = 60_000;
/** A sign-in request's life as the route host makes it. */
const REQUEST_TTL_MS = 5 * MINUTE;
/** Its life again once the authenticate host has sent the user to the provider. */
const SIGN_IN_TTL_MS = 10 * MINUTE;
const FLOW_COOKIE_TTL_S = (REQUEST_TTL_MS + SIGN_IN_TTL_MS) / 1000;
const HANDOFF_TTL_MS = MINUTE;
/**
 * The longest return path carried across hosts: it rides, signed and base64url-encoded, inside
 * the authenticate host's own return path, which is capped at 2 KiB. Longer ones become `/`.
 */
const MAX_RETURN_TO = 1024;

/** What the hand-off needs of the session manager. */
export interface SessionPort {
  /** The request's live session with its id (the cookie's), refreshed as `authenticate` does. */
  current(req: IncomingMessage): Promise<{ id: string; record: SessionRecord } | undefined>;
  /** Sets this host's cookie for the live session `sessionId`; undefined when it has ended. */
  adopt(res: ServerResponse, sessionId: string): Promise<SessionRecord | undefined>;
  /** Sign-in at the provider from this host, back at `returnTo` (a path here). */
  startLocal(req: IncomingMessage, res: ServerResponse, returnTo: string): Promise<void>;
}

export interface HandoffOptions {
  readonly hosts: SignInHosts;
  readonly oauth: Pick<OAuthStore, 'upsert' | 'find' | 'consume'>;
  readonly sharedSecret: string;
  /** Behind TLS: the flow cookie gets `Secure` and the `__Host-` prefix, as the session's. */
  readonly secure: boolean;
  readonly session: SessionPort;
  readonly now: () => number;
  readonly logger: SessionLogger;
}

/** The stored hand-off, under its code. */
interface Handoff {
  /** The route host's origin it was made for. */
  readonly host: string;
  /** The session id, sealed with the code as AAD: the row alone opens nothing. */
  readonly sessionEnc: string;
  readonly binding: string;
  readonly returnTo: string;
}

export class HostHandoff {
  private readonly signer: SignInRequestSigner;
  private readonly key: Buffer;

  constructor(private readonly options: HandoffOptions) {
    this.signer = new SignInRequestSigner(options.sharedSecret);
    this.key = deriveKey(options.sharedSecret, 'portcullis session hand-off v1');
  }

  /** The route host a request was sent to when its sign-in goes through the authenticate host. */
  remoteOrigin(req: IncomingMessage): string | undefined {
    return this.options.hosts.remoteOrigin(req);
  }

  /** On a route host: to the authenticate host, with a signed request to come back to `target`. */
  start(res: ServerResponse, returnTo: string, target: string): void {
    const nonce = randomId(32);
    const binding = bindingOf(nonce);
    const path = safeReturnTo(returnTo);
    const request = this.signer.sign({
      target,
      returnTo: path.length <= MAX_RETURN_TO ? path : '/',
      binding,
      expiresAt: this.options.now() + REQUEST_TTL_MS,
    });
    const flow = serializeCookie(this.flowCookie(binding), nonce, {
      secure: this.options.secure,
      maxAge: FLOW_COOKIE_TTL_S,
    });
    appendSetCookie(res, flow);
    const location = new URL(SIGN_IN_PATH, this.options.hosts.authOrigin);
    location.searchParams.set('request', request);
    res.writeHead(302, { location: location.href, 'cache-control': 'no-store' }).end();
  }

  /** `GET /.pomerium/sign_in?request=` on the authenticate host. */
  async signIn(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (!getOnly(req, res)) return;
    try {
      const request = this.checkRequest(req);
      const current = await this.options.session.current(req);
      if (current === undefined) {
        // Signed again to outlast the time the user may take at the provider's page.
        const again = this.signer.sign({ ...request, expiresAt: this.now() + SIGN_IN_TTL_MS });
        return await this.options.session.startLocal(req, res, signInPath(again));
      }
      const code = randomId(32);
      const handoff: Handoff = {
        host: request.target,
        sessionEnc: seal(this.key, current.id, code),
        binding: request.binding,
        returnTo: request.returnTo,
      };
      await this.options.oauth.upsert(MODEL, code, { ...handoff }, this.now() + HANDOFF_TTL_MS);
      this.options.logger.info({ sub: current.record.sub, host: request.target }, 'hand-off');
      const location = new URL(HANDOFF_CALLBACK_PATH, request.target);
      location.searchParams.set('code', code);
      res.writeHead(302, { location: location.href, 'cache-control': 'no-store' }).end();
    } catch (err) {
      sendSignInFailure(res, err, this.options.logger);
    }
  }

  /** `GET /.pomerium/callback/?code=` on a route host. */
  async callback(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (!getOnly(req, res)) return;
    try {
      const handoff = await this.take(req);
      const cleared = { secure: this.options.secure, maxAge: 0 };
      appendSetCookie(res, serializeCookie(this.flowCookie(handoff.binding), '', cleared));
      const record = await this.options.session.adopt(res, handoff.sessionId);
      if (record === undefined) {
        throw refusal('ERR_HANDOFF_SESSION', 'This session has ended. Sign in again.');
      }
      this.options.logger.info({ sub: record.sub, host: handoff.host }, 'signed in by hand-off');
      const location = safeReturnTo(handoff.returnTo);
      res.writeHead(302, { location, 'cache-control': 'no-store' }).end();
    } catch (err) {
      sendSignInFailure(res, err, this.options.logger);
    }
  }

  /** The request's signed sign-in request, when it holds and names a route host. */
  private checkRequest(req: IncomingMessage): SignInRequest {
    const { hosts } = this.options;
    if (!hosts.isAuthHost(req)) {
      throw refusal('ERR_SIGNIN_HOST', 'Sign-in requests are taken on the sign-in host only.');
    }
    const token = new URL(req.url ?? '/', 'http://x').searchParams.get('request') ?? '';
    const check = this.signer.verify(token, this.now());
    if (!check.ok) {
      if (check.reason === 'expired') {
        const message = 'This sign-in link has expired. Go back to the page you wanted.';
        throw refusal('ERR_SIGNIN_REQUEST_EXPIRED', message);
      }
      throw refusal('ERR_SIGNIN_REQUEST', 'This sign-in link is not valid.', check.reason);
    }
    const { target } = check.request;
    if (!hosts.isRouteOrigin(target) || target === hosts.authOrigin) {
      throw refusal(
        'ERR_SIGNIN_TARGET',
        'This sign-in link names a host this gateway does not serve.',
        target,
      );
    }
    return check.request;
  }

  /**
   * The hand-off the request presents, consumed: a code is good once, wherever it is shown
   * first. Then it must be for this host and for this browser.
   */
  private async take(req: IncomingMessage): Promise<Handoff & { sessionId: string }> {
    const { oauth, hosts } = this.options;
    const code = new URL(req.url ?? '/', 'http://x').searchParams.get('code') ?? '';
    const now = this.now();
    const found = code === '' || code.length > 128 ? undefined : await oauth.find(MODEL, code, now);
    const handoff = found === undefined ? undefined : parseHandoff(found.payload);
    if (found === undefined || handoff === undefined) {
      throw refusal('ERR_HANDOFF_UNKNOWN', 'This sign-in has expired or is unknown. Start again.');
    }
    // `consume` says whether this call was the first: of two racing requests only one goes on.
    if (found.consumedAt !== null || !(await oauth.consume(MODEL, code, now))) {
      throw refusal('ERR_HANDOFF_USED', 'This sign-in was already completed. Start again.');
    }
    if (hosts.originOf(req) !== handoff.host) {
      throw refusal('ERR_HANDOFF_HOST', 'This sign-in was made for another host.', handoff.host);
    }
    const nonce = parseCookies(req).get(this.flowCookie(handoff.binding));
    if (nonce === undefined || !timingSafeEqualString(bindingOf(nonce), handoff.binding)) {
      const message = 'This sign-in was started in another browser. Start again here.';
      throw refusal('ERR_HANDOFF_BROWSER', message);
    }
    try {
      return { ...handoff, sessionId: open(this.key, handoff.sessionEnc, code) };
    } catch {
      // Another shared_secret sealed it (a replica configured apart): as good as unknown.
      throw refusal('ERR_HANDOFF_UNKNOWN', 'This sign-in is unknown. Start again.', 'unsealable');
    }
  }

  /** One flow cookie per sign-in, so two tabs do not overwrite each other's. */
  private flowCookie(binding: string): string {
    return cookieName(`portcullis_handoff_${binding.slice(0, 16)}`, this.options.secure);
  }

  private now(): number {
    return this.options.now();
  }
}

/** The hand-off's endpoints, by path. */
export function handoffEndpoints(
  handoff: HostHandoff,
): [string, (req: IncomingMessage, res: ServerResponse) => Promise<void>][] {
  const callback = (req: IncomingMessage, res: ServerResponse) => handoff.callback(req, res);
  return [
    [SIGN_IN_PATH, (req, res) => handoff.signIn(req, res)],
    [HANDOFF_CALLBACK_PATH, callback],
    [HANDOFF_CALLBACK_PATH.slice(0, -1), callback],
  ];
}

function signInPath(request: string): string {
  return `${SIGN_IN_PATH}?request=${request}`;
}

function bindingOf(nonce: string): string {
  return createHash('sha256').update(nonce).digest('base64url');
}

function refusal(code: SignInErrorCode, message: string, detail?: string): SignInError {
  return new SignInError(code, 400, message, detail);
}

/** Not HEAD either: a link checker's HEAD must not spend a code or mint one. */
function getOnly(req: IncomingMessage, res: ServerResponse): boolean {
  if (req.method === 'GET') return true;
  res.writeHead(405, { allow: 'GET' }).end();
  return false;
}

function parseHandoff(payload: unknown): Handoff | undefined {
  if (!isObject(payload)) return undefined;
  const keys = ['host', 'sessionEnc', 'binding', 'returnTo'];
  return keys.every((k) => typeof payload[k] === 'string')
    ? (payload as unknown as Handoff)
    : undefined;
}
