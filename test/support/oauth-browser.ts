/**
 * Plays the browser in an MCP client's OAuth flow over HTTP: follows the gateway's redirects
 * with a cookie jar, submits the built-in sign-in form and the consent form, and stops at the
 * first redirect that leaves the gateway (the client's redirect URI, whatever its scheme).
 */
import assert from 'node:assert/strict';
import { CookieJar, send, type Hop } from './cookie-jar.js';

export interface BrowserOptions {
  readonly email: string;
  readonly password: string;
  /** Shared across flows to keep the gateway session (default: a fresh jar). */
  readonly jar?: CookieJar;
  /** The consent button to press (default `allow`). */
  readonly decision?: 'allow' | 'deny';
}

export interface BrowserResult {
  /** The redirect that left the gateway: the client's redirect URI with `code` or `error`. */
  readonly location: URL;
  /** Whether a consent page was shown (false when consent was remembered). */
  readonly consentShown: boolean;
  readonly signedIn: boolean;
  readonly hops: readonly Hop[];
  /** The consent page as served, when one was shown. */
  readonly consentPage?: Hop;
}

/** The hidden CSRF token of a consent page. */
export function consentCsrf(body: string): string {
  const csrf = /name="csrf" value="([^"]+)"/.exec(body)?.[1];
  assert.ok(csrf, 'consent page without a CSRF token');
  return csrf;
}

export async function authorizeInBrowser(
  authorizationUrl: string | URL,
  options: BrowserOptions,
): Promise<BrowserResult> {
  const jar = options.jar ?? new CookieJar();
  const start = new URL(authorizationUrl);
  const hops: Hop[] = [];
  let consentShown = false;
  let signedIn = false;
  let consentPage: Hop | undefined;
  let hop = await send(jar, start);
  for (let i = 0; i < 30; i++) {
    hops.push(hop);
    if (hop.status >= 300 && hop.status < 400) {
      const location = new URL(hop.headers.get('location') ?? '', hop.url);
      if (location.origin !== start.origin)
        return { location, consentShown, signedIn, hops, consentPage };
      hop = await send(jar, location);
      continue;
    }
    assert.equal(
      hop.status,
      200,
      `${hop.url.pathname} answered ${hop.status}: ${hop.body.slice(0, 500)}`,
    );
    if (hop.url.pathname.startsWith('/.pomerium/idp/interaction/')) {
      signedIn = true;
      hop = await send(jar, hop.url, {
        form: { email: options.email, password: options.password },
      });
    } else if (hop.url.pathname.startsWith('/.pomerium/mcp/interaction/')) {
      consentShown = true;
      consentPage = hop;
      hop = await send(jar, hop.url, {
        form: { csrf: consentCsrf(hop.body), decision: options.decision ?? 'allow' },
      });
    } else {
      assert.fail(`unexpected page ${hop.url.href}: ${hop.body.slice(0, 300)}`);
    }
  }
  assert.fail(
    `too many hops in the authorization flow: ${hops.map((h) => `${h.status} ${h.url.pathname}`).join(' → ')}`,
  );
}
