/**
 * The identity headers the gateway sets (`X-Pomerium-*` and each `jwt_claims_headers` name):
 * which names it owns, so a client can never supply one, and how a claim value becomes a
 * field value whatever characters it holds.
 */

/** Lower-case names of the configured claim headers, built once at start-up. */
export function claimHeaderNames(claimsHeaders: Readonly<Record<string, string>>): Set<string> {
  return new Set(Object.keys(claimsHeaders).map((name) => name.toLowerCase()));
}

/** Whether a (lower-case) request field is one only the gateway may set. */
export function isIdentityHeader(name: string, claimHeaders: ReadonlySet<string>): boolean {
  return name.startsWith('x-pomerium-') || claimHeaders.has(name);
}

/** Printable ASCII, neither starting nor ending with a space (RFC 9110 §5.5 trims those). */
const PLAIN_VALUE = /^(?:[\x21-\x7e](?:[\x20-\x7e]*[\x21-\x7e])?)?$/;
const EXT_VALUE_START = /^utf-8''/i;

/**
 * A claim value as a header field value. Printable ASCII goes as it is. Anything else (a name
 * like `Zoë 李`, an address with CR LF in it) is sent as an RFC 8187 §3.2 `ext-value` with the
 * UTF-8 charset: `UTF-8''Zo%C3%AB%20%E6%9D%8E`. Why this encoding: field values are octets
 * that recipients read as ISO-8859-1 at best (RFC 9110 §5.5), so raw UTF-8 arrives garbled and
 * Node refuses anything beyond Latin-1 (`ERR_INVALID_CHAR`, issue 8); percent-encoding the
 * UTF-8 bytes keeps every value to visible ASCII, so no control character can ever reach a
 * header, and `ext-value` is a standard, self-describing form that any URL decoder reverses. A
 * plain value that itself begins with `UTF-8''` is encoded too, so every value of that form is
 * an encoded one and decoding is never ambiguous. The signed assertion carries the exact value.
 */
export function identityHeaderValue(value: string): string {
  if (PLAIN_VALUE.test(value) && !EXT_VALUE_START.test(value)) return value;
  return `UTF-8''${percentEncode(value)}`;
}

/** RFC 8187 §3.2.1 attr-char: ALPHA / DIGIT / "!#$&+-.^_`|~"; every other octet is %XX. */
const ATTR_CHAR = /^[A-Za-z0-9!#$&+\-.^_`|~]$/;

function percentEncode(value: string): string {
  let out = '';
  for (const byte of Buffer.from(value, 'utf8')) {
    const char = String.fromCharCode(byte);
    out += ATTR_CHAR.test(char) ? char : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}
