/**
 * The portal in a real browser (Debian's Chromium; issue 10, "The portal"): a person signs in,
 * sees the MCP servers they may reach and the MCP client they authorized earlier, copies a
 * snippet, connects a server's upstream service through the provider and disconnects it (the
 * provider then says the token is dead), and revokes the client (its next call is 401 and its
 * refresh fails). Without script the snippets are still there; no page breaks its CSP.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Browser, BrowserContext, Locator, Page } from 'playwright-core';
import { launchChromium } from './support/chromium.js';
import { CookieJar } from './support/cookie-jar.js';
import { mcpPost, SESSION_COOKIE } from './support/gateway.js';
import { connectClient, firstText } from './support/mcp-client.js';
import { authorizeWithSdk, BrowserOAuthProvider } from './support/oauth-client.js';
import { tokenRequest } from './support/oauth-flow.js';
import { ALICE, PORTAL_PASSWORD, startPortalRig, type PortalRig } from './support/portal-rig.js';

const AGENT = 'Alice’s agent';

describe('the portal in Chromium', () => {
  let rig: PortalRig;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let agent: BrowserOAuthProvider;
  /** Console errors and CSP reports from the gateway's pages (not the provider fixture's). */
  const problems: string[] = [];

  const agentCall = () =>
    mcpPost(
      rig.origin,
      '/open',
      { jsonrpc: '2.0', id: 1, method: 'tools/list' },
      {
        headers: { authorization: `Bearer ${agent.tokens()?.access_token}` },
      },
    );

  before(async () => {
    rig = await startPortalRig('portcullis-portal-chromium-');
    // An MCP client Alice authorized before she ever opened the portal (its own browser).
    agent = new BrowserOAuthProvider(
      { email: ALICE, password: PORTAL_PASSWORD, jar: new CookieJar() },
      { client_name: AGENT },
    );
    await authorizeWithSdk(agent, rig.url('/open'));
    assert.equal((await agentCall()).status, 200);
    browser = await launchChromium();
    context = await browser.newContext();
    await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: rig.origin });
    context.on('console', (msg) => {
      const at = msg.page()?.url() ?? '';
      if (!at.startsWith(rig.origin)) return;
      if (msg.type() === 'error' || /Content Security Policy/i.test(msg.text()))
        problems.push(`${at}: ${msg.text()}`);
    });
    context.on('weberror', (err) => problems.push(String(err.error())));
    page = await context.newPage();
  });
  after(async () => {
    await browser?.close();
    await rig?.close();
  });

  const clipboard = () => page.evaluate<string>('navigator.clipboard.readText()');

  const card = (name: string): Locator =>
    page.locator('section.card', { has: page.getByRole('heading', { name, exact: true }) });

  it('signs in and sees the servers she may reach and the client she authorized', async () => {
    await page.goto(rig.url('/.pomerium/'));
    await page.getByLabel('Email').fill(ALICE);
    await page.getByLabel('Password').fill(PORTAL_PASSWORD);
    await Promise.all([
      page.waitForURL(rig.url('/.pomerium/')),
      page.getByRole('button', { name: 'Sign in' }).click(),
    ]);
    await page.getByText('Signed in as').waitFor();
    const names = await page.locator('section.card h3').allInnerTexts();
    assert.deepEqual(names, ['Notes', 'Open']);
    assert.match(await card('Notes').innerText(), /Not connected/);
    assert.match(await card('Open').innerText(), /Ready/);
    const row = page.locator('table.clients tbody tr', { hasText: AGENT });
    const text = await row.innerText();
    assert.match(text, /redirects to 127\.0\.0\.1:53682/);
    assert.match(text, /Open/);
  });

  it('Copy puts the URL and a snippet on the clipboard', async () => {
    const notes = card('Notes');
    const copyUrl = notes.locator('p.row', { hasText: rig.url('/notes') }).getByRole('button');
    await copyUrl.click();
    assert.equal(await clipboard(), rig.url('/notes'));
    assert.equal((await copyUrl.innerText()).trim(), 'Copied');
    await notes.locator('summary').click();
    await notes.locator('p.row', { hasText: 'Claude Code' }).getByRole('button').click();
    assert.equal(await clipboard(), `claude mcp add --transport http notes ${rig.url('/notes')}`);
  });

  let held: string;

  it('Connect goes through the upstream provider and comes back connected', async () => {
    await Promise.all([
      page.waitForURL((url) => url.origin === rig.provider.issuer),
      card('Notes').getByRole('link', { name: 'Connect' }).click(),
    ]);
    await page.fill('input[name="account"]', 'alice-at-service');
    await Promise.all([
      page.waitForURL(rig.url('/.pomerium/')),
      page.getByRole('button', { name: 'Allow' }).click(),
    ]);
    const state = await card('Notes').innerText();
    assert.match(state, /Connected/);
    assert.match(state, /token expires \d{4}-\d\d-\d\d \d\d:\d\d UTC, renewed automatically/);

    // The session reaches the server, which sees Alice's own token at the service.
    const session = (await context.cookies()).find((c) => c.name === SESSION_COOKIE);
    assert.ok(session);
    const client = await connectClient(rig.url('/notes'), {
      cookie: `${SESSION_COOKIE}=${session.value}`,
    });
    const account = JSON.parse(
      firstText(await client.callTool({ name: 'account', arguments: {} })),
    );
    await client.close();
    assert.equal(account.sub, 'alice-at-service');
    held = rig.notes.authorizations.at(-1)?.replace(/^Bearer /, '') ?? '';
    assert.equal((await rig.provider.introspect(held)).active, true);
  });

  it('Disconnect makes it disconnected, and the provider has revoked the token', async () => {
    await Promise.all([
      page.waitForURL(/\/\.pomerium\/\?notice=disconnected$/),
      card('Notes').getByRole('button', { name: 'Disconnect' }).click(),
    ]);
    assert.match(await page.getByRole('status').innerText(), /Disconnected/);
    assert.match(await card('Notes').innerText(), /Not connected/);
    assert.equal((await rig.provider.introspect(held)).active, false);
  });

  it('Revoke: the client’s next call is 401 and its refresh fails', async () => {
    const refreshToken = agent.tokens()?.refresh_token;
    assert.ok(refreshToken);
    const row = page.locator('table.clients tbody tr', { hasText: AGENT });
    await Promise.all([
      page.waitForURL(/\/\.pomerium\/\?notice=revoked$/),
      row.getByRole('button', { name: 'Revoke' }).click(),
    ]);
    assert.equal(await page.locator('table.clients tbody tr', { hasText: AGENT }).count(), 0);
    assert.match(await page.getByRole('status').innerText(), /Revoked/);
    assert.equal((await agentCall()).status, 401);
    const refresh = await tokenRequest(rig.origin, {
      grant_type: 'refresh_token',
      refresh_token: refreshToken,
      client_id: agent.clientInformation()?.client_id ?? '',
    });
    assert.equal(refresh.status, 400);
    assert.equal(refresh.body.error, 'invalid_grant');
  });

  it('without script the snippets are there and no Copy button shows', async () => {
    const plain = await browser.newContext({ javaScriptEnabled: false });
    await plain.addCookies(await context.cookies(rig.origin));
    const view = await plain.newPage();
    await view.goto(rig.url('/.pomerium/'));
    await view.getByText('Signed in as').waitFor();
    assert.equal(await view.getByRole('button', { name: 'Copy' }).count(), 0);
    const notes = view.locator('section.card', { hasText: 'Your notes' });
    await notes.locator('summary').click();
    assert.match(await notes.innerText(), /"mcpServers"/);
    await plain.close();
  });

  it('no page logged a console error or a CSP violation', () => {
    assert.deepEqual(problems, []);
  });
});
