/**
 * A person in Chromium completing an MCP client's authorization on the gateway: open the URL
 * the client gave, sign in on the built-in provider's form when asked, press Allow, and wait
 * until the browser has loaded the client's own redirect (the client got its code then).
 */
import assert from 'node:assert/strict';
import type { BrowserContext } from 'playwright-core';

export interface ChromiumConsent {
  /** Where the browser landed: the client's redirect URI with `code`, `state`, `iss`. */
  readonly landed: URL;
  readonly signedIn: boolean;
  /** The consent page's text. */
  readonly consentText: string;
}

export async function approveInChromium(
  context: BrowserContext,
  authorizationUrl: URL,
  user: { readonly email: string; readonly password: string },
): Promise<ChromiumConsent> {
  const gateway = authorizationUrl.origin;
  const page = await context.newPage();
  try {
    await page.goto(authorizationUrl.href);
    let signedIn = false;
    if ((await page.locator('input[name="password"]').count()) > 0) {
      signedIn = true;
      await page.fill('input[name="email"]', user.email);
      await page.fill('input[name="password"]', user.password);
      await Promise.all([
        page.waitForURL(/\/\.pomerium\/mcp\/interaction\//),
        page.click('button[type="submit"]'),
      ]);
    }
    assert.match(page.url(), /\/\.pomerium\/mcp\/interaction\//, 'a consent page');
    const consentText = await page.locator('body').innerText();
    await Promise.all([
      page.waitForURL((url) => url.origin !== gateway, { waitUntil: 'load' }),
      page.getByRole('button', { name: 'Allow' }).click(),
    ]);
    return { landed: new URL(page.url()), signedIn, consentText };
  } finally {
    await page.close();
  }
}
