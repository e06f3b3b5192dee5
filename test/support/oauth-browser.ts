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
  /**
   * Every origin of the gateway the flow may cross (sign-in across hosts: the authenticate
   * host and the MCP host); default the authorization URL's origin alone.
   */
  readonly gatewayOrigins?: readonly string[];
  /** The consent button to press (default `allow`). */
  readonly decision?: 'allow' | 'deny';
  /**
   * An external identity provider (`oidc-idp.ts`) the authenticate host sends the browser to;
   * its login form is filled with `email` and `password`. Default: the built-in provider.
   */
  readonly idp?: { readonly origin: string };
  /** An upstream provider the gateway sends the browser to (`upstream-provider.ts`). */
  readonly upstream?: {
    readonly origin: string;
    /** The person's account at the upstream service. */
    readonly account: string;
    readonly decision?: 'allow' | 'deny';
  };
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
  /** Whether the browser went through the upstream provider's consent. */
  readonly upstreamShown: boolean;
  /** The gateway's page after a refused upstream consent, when one was shown. */
  readonly upstreamFailedPage?: Hop;
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
  let upstreamShown = false;
  let upstreamFailedPage: Hop | undefined;
  const { upstream } = options;
  const gateway = new Set([start.origin, ...(options.gatewayOrigins ?? [])]);
  let hop = await send(jar, start);
  for (let i = 0; i < 30; i++) {
    hops.push(hop);
    if (hop.status >= 300 && hop.status < 400) {
      const location = new URL(hop.headers.get('location') ?? '', hop.url);
      const visiting = [upstream?.origin, options.idp?.origin];
      if (!gateway.has(location.origin) && !visiting.includes(location.origin)) {
        const result = { location, consentShown, signedIn, hops, consentPage, upstreamShown };
        return { ...result, ...(upstreamFailedPage ? { upstreamFailedPage } : {}) };
      }
      hop = await send(jar, location);
      continue;
    }
    if (upstream && hop.url.origin === upstream.origin) {
      assert.equal(hop.status, 200, `upstream ${hop.url.pathname}: ${hop.body.slice(0, 300)}`);
      upstreamShown = true;
      const decision = upstream.decision ?? 'allow';
      hop = await send(jar, hop.url, { form: { account: upstream.account, decision } });
      continue;
    }
    if (options.idp && hop.url.origin === options.idp.origin) {
      assert.equal(hop.status, 200, `identity provider ${hop.url.pathname}: ${hop.body}`);
      signedIn = true;
      hop = await send(jar, hop.url, {
        form: { login: options.email, password: options.password },
      });
      continue;
    }
    if (hop.status === 502 && /name="decision" value="upstream_failed"/.test(hop.body)) {
      upstreamFailedPage = hop;
      const reason = /name="reason" value="([^"]*)"/.exec(hop.body)?.[1] ?? '';
      hop = await send(jar, hop.url, {
        form: { csrf: consentCsrf(hop.body), reason, decision: 'upstream_failed' },
      });
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
