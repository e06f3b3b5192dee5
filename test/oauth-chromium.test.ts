/**
 * The sign-in and consent pages of the gateway of `npm start` in a real browser (Debian's
 * Chromium): what the consent page names, Allow and Deny landing at the client's loopback
 * redirect, the page refusing to be framed, and no Content-Security-Policy violation anywhere
 * (the CSP's `form-action` must admit the redirect after the consent POST).
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import type { DevSystem } from '../src/cli/dev.js';
import { startTestDevSystem, type TestDevSystem } from './support/dev-system.js';
import { launchChromium } from './support/chromium.js';
import { authorizationUrl, pkce, publicClient, register } from './support/oauth-flow.js';

const EMAIL = 'turing@example.com';
const PASSWORD = 'chromium oauth test password';

/** The MCP client's side: its loopback redirect (records each query) and a page that frames. */
interface ClientSite {
  readonly port: number;
  readonly callbacks: URLSearchParams[];
  close(): Promise<void>;
}

async function startClientSite(): Promise<ClientSite> {
  const callbacks: URLSearchParams[] = [];
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    if (url.pathname === '/callback') {
      callbacks.push(url.searchParams);
      res.writeHead(200, { 'content-type': 'text/html' }).end('<p>client got the redirect</p>');
    } else if (url.pathname === '/frame') {
      const src = (url.searchParams.get('src') ?? '').replace(/"/g, '&quot;');
      res
        .writeHead(200, { 'content-type': 'text/html' })
        .end(`<!doctype html><title>framer</title><iframe name="victim" src="${src}"></iframe>`);
    } else {
      res.writeHead(url.pathname === '/favicon.ico' ? 204 : 404).end();
    }
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    port: (server.address() as AddressInfo).port,
    callbacks,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

describe('sign-in and consent pages in Chromium', () => {
  let dev: TestDevSystem;
  let system: DevSystem;
  let site: ClientSite;
  let browser: Browser;
  let context: BrowserContext;
  /** Console errors and CSP reports from every page of the context. */
  const problems: string[] = [];

  before(async () => {
    dev = await startTestDevSystem({
      email: EMAIL,
      password: PASSWORD,
      dirPrefix: 'portcullis-oauth-chromium',
    });
    system = dev.system;
    site = await startClientSite();
    browser = await launchChromium();
    context = await browser.newContext();
    context.on('console', (msg) => {
      if (msg.type() === 'error' || /Content Security Policy/i.test(msg.text()))
        problems.push(`${msg.page()?.url()}: ${msg.text()}`);
    });
    context.on('weberror', (err) => problems.push(String(err.error())));
  });
  after(async () => {
    await browser?.close();
    await site?.close();
    await dev?.close();
  });

  /** Registers a client and opens its authorization URL in a new tab. */
  async function startAuthorization(clientName: string) {
    const redirectUri = `http://127.0.0.1:${site.port}/callback`;
    const client = await register(
      system.url,
      publicClient(redirectUri, { client_name: clientName }),
    );
    assert.equal(client.status, 201);
    const state = `state-${clientName.replace(/\W/g, '')}`;
    const url = authorizationUrl(system.url, {
      client_id: client.clientId,
      redirect_uri: redirectUri,
      code_challenge: pkce().challenge,
      resource: `${system.url}/whoami`,
      state,
    });
    const page = await context.newPage();
    await page.goto(url.href);
    return { page, redirectUri, state };
  }

  /** The built-in sign-in form, when the browser has no gateway session yet. */
  async function signInIfAsked(page: Page) {
    if ((await page.locator('input[name="password"]').count()) === 0) return;
    await page.fill('input[name="email"]', EMAIL);
    await page.fill('input[name="password"]', PASSWORD);
    await Promise.all([
      page.waitForURL(/\/\.pomerium\/mcp\/interaction\//),
      page.click('button[type="submit"]'),
    ]);
  }

  /** Clicks a consent button and waits for the client's redirect to be loaded. */
  async function decide(page: Page, button: 'Allow' | 'Deny'): Promise<URL> {
    await Promise.all([
      page.waitForURL(new RegExp(`^http://127\\.0\\.0\\.1:${site.port}/callback`)),
      page.getByRole('button', { name: button }).click(),
    ]);
    return new URL(page.url());
  }

  it('signs in, names client, redirect URI, server and account; Allow returns a code', async () => {
    const { page, redirectUri, state } = await startAuthorization('Chromium Allow Client');
    await signInIfAsked(page);
    assert.match(page.url(), /\/\.pomerium\/mcp\/interaction\//);
    const text = await page.locator('body').innerText();
    assert.match(text, /Chromium Allow Client/);
    assert.match(text, new RegExp(`from 127\\.0\\.0\\.1:${site.port}`));
    assert.ok(text.includes(redirectUri), text);
    assert.match(text, /whoami/);
    assert.ok(text.includes(`${system.url}/whoami`), text);
    assert.ok(text.includes(EMAIL), text);

    const landed = await decide(page, 'Allow');
    assert.ok(landed.searchParams.get('code'));
    assert.equal(landed.searchParams.get('state'), state);
    assert.equal(landed.searchParams.get('iss'), system.url);
    const received = site.callbacks.at(-1);
    assert.equal(received?.get('code'), landed.searchParams.get('code'), 'the client received it');
    await page.close();
  });

  it('Deny returns error=access_denied to the client', async () => {
    const { page, state } = await startAuthorization('Chromium Deny Client');
    await signInIfAsked(page);
    const landed = await decide(page, 'Deny');
    assert.equal(landed.searchParams.get('error'), 'access_denied');
    assert.equal(landed.searchParams.get('state'), state);
    assert.equal(landed.searchParams.get('code'), null);
    await page.close();
  });

  it('the consent page refuses to be framed by another origin', async () => {
    const { page } = await startAuthorization('Chromium Frame Client');
    await signInIfAsked(page);
    const consentUrl = page.url();
    assert.match(consentUrl, /\/\.pomerium\/mcp\/interaction\//);
    const response = await page.reload();
    const headers = response?.headers() ?? {};
    assert.match(headers['content-security-policy'] ?? '', /frame-ancestors 'none'/);
    assert.equal(headers['x-frame-options'], 'DENY');
    assert.equal(headers['cache-control'], 'no-store');

    // Another origin, same site (localhost), so the browser sends the session and interaction
    // cookies into the frame: only the page's own headers can stop it.
    const framer = await context.newPage();
    const blocked: string[] = [];
    framer.on('console', (msg) => {
      if (/frame-ancestors|X-Frame-Options|refused to (display|connect)/i.test(msg.text()))
        blocked.push(msg.text());
    });
    const frameRequest = framer.waitForResponse((r) => r.url() === consentUrl);
    await framer.goto(`http://localhost:${site.port}/frame?src=${encodeURIComponent(consentUrl)}`);
    const framed = await frameRequest;
    assert.equal(framed.status(), 200, 'the consent page itself was what the frame got');
    await framer.waitForTimeout(200);
    const victim = framer.frame({ name: 'victim' });
    const content = victim ? await victim.content().catch(() => '') : '';
    assert.doesNotMatch(content, /Allow access/, 'the consent page rendered inside the frame');
    assert.ok(
      blocked.some((m) => m.includes(`frame-ancestors 'none'`)),
      `Chromium reported the refusal: ${blocked.join('\n')}`,
    );
    await framer.close();
    await page.close();
    // The refusal is the expected CSP report of this test, not a problem of the pages.
    problems.splice(0, problems.length, ...problems.filter((p) => !p.includes('/frame?src=')));
  });

  it('no page logged a console error or a CSP violation', () => {
    assert.deepEqual(problems, []);
  });
});
