/**
 * The HTTP-01 challenge path (RFC 8555 §8.3), answered on `http_redirect_addr` by the responder
 * of autocert (`acme.ts`); without autocert every challenge path is 404.
 */

export const ACME_CHALLENGE_PREFIX = '/.well-known/acme-challenge/';

/**
 * The key authorization for `token` on `hostname` (the name being validated, lower-case, no
 * port), or undefined when this gateway knows no such challenge. May look in storage: with
 * several replicas the CA's request can reach one that did not order.
 */
export type AcmeChallengeResponder = (
  token: string,
  hostname: string,
) => Promise<string | undefined> | string | undefined;

/**
 * The token of a challenge path, or undefined when `path` is no challenge path or its token is
 * not base64url (RFC 8555 §8.3: the token holds only base64url characters, RFC 4648 §5).
 */
export function challengeToken(path: string): string | undefined {
  if (!path.startsWith(ACME_CHALLENGE_PREFIX)) return undefined;
  const token = path.slice(ACME_CHALLENGE_PREFIX.length);
  return /^[A-Za-z0-9_-]{1,256}$/.test(token) ? token : undefined;
}
