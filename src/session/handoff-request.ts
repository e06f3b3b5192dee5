/**
 * The request a route host sends the browser to the authenticate host with: which host to hand
 * the session to, the path to return to there, and the binding to the browser's flow cookie.
 * It is signed (HMAC-SHA256, RFC 2104) with a key derived from `shared_secret` and lives a few
 * minutes, so only the gateway can make one, and an old link cannot be replayed later. It is
 * no credential: it names where a session may be handed, never a session.
 *
 * Form: `<base64url(JSON)>.<base64url(HMAC of the first part)>`, URL-safe as it is, so it can
 * sit in the return path of the authenticate host's own sign-in without growing.
 */
import { createHmac } from 'node:crypto';
import { deriveKey, timingSafeEqualString } from '../core/crypto.js';
import { isObject } from '../core/json.js';

export interface SignInRequest {
  /** The route host's origin (scheme, host, port), where the hand-off goes. */
  readonly target: string;
  /** A path on the target (`safeReturnTo`). */
  readonly returnTo: string;
  /** SHA-256 (base64url) of the nonce in the route host's flow cookie. */
  readonly binding: string;
  /** Milliseconds since the epoch. */
  readonly expiresAt: number;
}

export type RequestCheck =
  | { readonly ok: true; readonly request: SignInRequest }
  | { readonly ok: false; readonly reason: 'malformed' | 'signature' | 'expired' };

/** Longer than any request this gateway makes (a return path is at most 2 KiB). */
const MAX_TOKEN = 4096;
const B64URL = /^[A-Za-z0-9_-]+$/;

export class SignInRequestSigner {
  private readonly key: Buffer;

  constructor(sharedSecret: string) {
    this.key = deriveKey(sharedSecret, 'portcullis sign-in request v1');
  }

  sign(request: SignInRequest): string {
    const { target, returnTo, binding, expiresAt } = request;
    const body = JSON.stringify({ t: target, r: returnTo, b: binding, e: expiresAt });
    const payload = Buffer.from(body, 'utf8').toString('base64url');
    return `${payload}.${this.mac(payload)}`;
  }

  /** The request when its signature holds and it is still live at `now`. */
  verify(token: string, now: number): RequestCheck {
    const parts = token.length <= MAX_TOKEN ? token.split('.') : [];
    const [payload, signature] = parts;
    if (parts.length !== 2 || payload === undefined || signature === undefined) {
      return { ok: false, reason: 'malformed' };
    }
    if (!B64URL.test(payload) || !timingSafeEqualString(signature, this.mac(payload))) {
      return { ok: false, reason: 'signature' };
    }
    const request = parseRequest(Buffer.from(payload, 'base64url').toString('utf8'));
    if (request === undefined) return { ok: false, reason: 'malformed' };
    if (request.expiresAt <= now) return { ok: false, reason: 'expired' };
    return { ok: true, request };
  }

  private mac(payload: string): string {
    return createHmac('sha256', this.key).update(payload).digest('base64url');
  }
}

function parseRequest(json: string): SignInRequest | undefined {
  let o: unknown;
  try {
    o = JSON.parse(json);
  } catch {
    return undefined;
  }
  if (!isObject(o)) return undefined;
  const { t, r, b, e } = o;
  if (typeof t !== 'string' || typeof r !== 'string' || typeof b !== 'string') return undefined;
  if (typeof e !== 'number' || !Number.isFinite(e)) return undefined;
  return { target: t, returnTo: r, binding: b, expiresAt: e };
}
