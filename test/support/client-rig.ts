/**
 * What a third-party MCP client test needs around the client: the system of `npm start`
 * (gateway, built-in identity provider, servers host) with short-lived access tokens so a
 * refresh can be forced by waiting, a log of the requests the gateway answered, Chromium to
 * play the person signing in and consenting, and the "system browser" CLI clients call.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Browser, BrowserContext } from 'playwright-core';
import type { DevSystem } from '../../src/cli/dev.js';
import { startBrowserHandoff, type BrowserHandoff } from './browser-handoff.js';
import { launchChromium } from './chromium.js';
import { approveInChromium, type ChromiumConsent } from './chromium-consent.js';
import { startTestDevSystem, type TestDevSystem } from './dev-system.js';
import { recordRequests, type RequestLog } from './request-log.js';

/**
 * Long enough for a client to list and call once after authorizing, short enough to wait
 * out. mcp-remote refreshes 60 s ahead of expiry, so it refreshes before every request here.
 */
export const ACCESS_TOKEN_SECONDS = 6;

export interface ClientRig {
  readonly system: DevSystem;
  readonly log: RequestLog;
  readonly handoff: BrowserHandoff;
  readonly user: { readonly email: string; readonly password: string };
  /** Signs in (first time) and allows, in Chromium, the authorization a client started. */
  approve(authorizationUrl: URL): Promise<ChromiumConsent>;
  /** A temporary directory removed by `close()`. */
  tempDir(prefix: string): string;
  /** Waits until every access token issued so far has expired. */
  outliveAccessTokens(): Promise<void>;
  close(): Promise<void>;
}

export async function startClientRig(name: string): Promise<ClientRig> {
  const user = { email: `${name}@example.com`, password: `${name} client test password` };
  const dirs: string[] = [];
  let dev: TestDevSystem | undefined;
  let browser: Browser | undefined;
  let log: RequestLog | undefined;
  const handoff = startBrowserHandoff();
  const close = async () => {
    // What the client sent, for whoever studies a client's behaviour.
    if (process.env.PORTCULLIS_SHOW_REQUESTS && log) console.log(log.describe());
    log?.stop();
    await browser?.close();
    await dev?.close();
    handoff.close();
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  };
  try {
    dev = await startTestDevSystem({
      ...user,
      dirPrefix: `portcullis-${name}`,
      lifetimes: { accessToken: ACCESS_TOKEN_SECONDS },
    });
    const requests = recordRequests(Number(new URL(dev.system.url).port));
    log = requests;
    browser = await launchChromium();
    const context: BrowserContext = await browser.newContext();
    return {
      system: dev.system,
      log: requests,
      handoff,
      user,
      approve: (url) => approveInChromium(context, url, user),
      tempDir(prefix) {
        const dir = mkdtempSync(join(tmpdir(), `${prefix}-`));
        dirs.push(dir);
        return dir;
      },
      async outliveAccessTokens() {
        const issued = requests.tokenRequests().filter((t) => t.status === 200);
        const last = issued.at(-1);
        assert.ok(last, 'no access token was issued');
        // oidc-provider counts whole seconds from issuance; the answer left after issuance.
        const wait = last.at + ACCESS_TOKEN_SECONDS * 1000 + 300 - Date.now();
        if (wait > 0) await sleep(wait);
      },
      close,
    };
  } catch (err) {
    await close();
    throw err;
  }
}

/**
 * From `mark` on, the client renewed its token with a refresh-token grant the gateway
 * answered 200, without registering again or sending anyone through the authorize endpoint.
 */
export function assertRefreshedWithoutBrowser(log: RequestLog, mark: number): void {
  const seen = log.describe(mark);
  const refreshes = log
    .tokenRequests(mark)
    .filter((t) => t.params.get('grant_type') === 'refresh_token');
  assert.ok(refreshes.length > 0, `no refresh-token grant:\n${seen}`);
  assert.ok(
    refreshes.every((t) => t.status === 200),
    `a refresh failed:\n${seen}`,
  );
  const again = log
    .since(mark)
    .filter((e) => /\/\.pomerium\/mcp\/(register|authorize)(\?|$)/.test(e.url));
  assert.deepEqual(again, [], `the client authorized again instead of refreshing:\n${seen}`);
}

/** The tool names of a `tools/list` result, sorted. */
export function toolNames(result: unknown): string[] {
  const tools = (result as { tools?: { name: string }[] }).tools ?? [];
  return tools.map((t) => t.name).sort();
}
