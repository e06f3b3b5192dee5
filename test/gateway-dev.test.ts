/**
 * The whole embedded system (`npm start`): gateway + built-in identity provider + servers host.
 * A person signs in with Chromium; the session then reaches the MCP servers through the
 * gateway, which signs the identity assertion that /whoami verifies, applies tool policy and
 * filters tools/list.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Browser } from 'playwright-core';
import { launchChromium } from './support/chromium.js';
import type { DevSystem } from '../src/cli/dev.js';
import { startTestDevSystem, type TestDevSystem } from './support/dev-system.js';
import { connectClient } from './support/mcp-client.js';

const EMAIL = 'ada@example.com';
const PASSWORD = 'correct horse battery staple';

describe('npm start: gateway, built-in sign-in and servers host', () => {
  let dev: TestDevSystem;
  let system: DevSystem;
  let browser: Browser;
  let cookie: string;

  before(async () => {
    dev = await startTestDevSystem({
      email: EMAIL,
      password: PASSWORD,
      dirPrefix: 'portcullis-gw',
    });
    system = dev.system;
    browser = await launchChromium();
  });
  after(async () => {
    await browser?.close();
    await dev?.close();
  });

  const mcp = (path: string, body: unknown, headers: Record<string, string> = {}) =>
    fetch(`${system.url}${path}`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
        ...headers,
      },
      body: JSON.stringify(body),
    });

  it('a browser signs in with the built-in provider and sees the MCP servers', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(`${system.url}/`);
    await page.getByLabel('Email').fill(EMAIL);
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByText('Signed in as').waitFor();
    const text = await page.textContent('body');
    assert.match(text ?? '', new RegExp(`${system.url}/sqlite`));
    assert.match(text ?? '', new RegExp(`${system.url}/whoami`));
    const session = (await context.cookies()).find((c) => c.name === 'portcullis_session');
    assert.ok(session, 'session cookie set');
    assert.equal(session.httpOnly, true);
    assert.equal(session.sameSite, 'Lax');
    cookie = `${session.name}=${session.value}`;
    await context.close();
  });

  it('without a session MCP routes answer 401 Unauthorized', async () => {
    const res = await mcp('/sqlite', { jsonrpc: '2.0', id: 1, method: 'tools/list' });
    assert.equal(res.status, 401);
    assert.equal(res.statusText, 'Unauthorized');
  });

  it('whoami verifies the gateway-signed assertion and returns the signed-in user', async () => {
    const client = await connectClient(`${system.url}/whoami`, { cookie });
    const result = await client.callTool({ name: 'whoami', arguments: {} });
    assert.notEqual(result.isError, true, JSON.stringify(result));
    const who = result.structuredContent as { email: string; sub: string };
    assert.equal(who.email, EMAIL);
    assert.ok(who.sub.length > 0);
    await client.close();
  });

  it('sqlite answers queries, and the denied update tool is hidden and refused', async () => {
    const client = await connectClient(`${system.url}/sqlite`, { cookie });
    const { tools } = await client.listTools();
    assert.deepEqual(tools.map((t) => t.name).sort(), [
      'describe_table',
      'list_tables',
      'read_query',
    ]);
    const rows = await client.callTool({
      name: 'read_query',
      arguments: { query: 'SELECT count(*) AS n FROM products' },
    });
    assert.deepEqual((rows.structuredContent as { rows: unknown }).rows, [{ n: 10 }]);
    await client.close();

    const denied = await mcp(
      '/sqlite',
      {
        jsonrpc: '2.0',
        id: 7,
        method: 'tools/call',
        params: {
          name: 'update',
          arguments: { table_name: 't', set_clause: 'a=1', where_clause: '1' },
        },
      },
      { cookie },
    );
    assert.equal(denied.status, 200);
    const body = (await denied.json()) as { id: number; error: { code: number } };
    assert.equal(body.id, 7);
    assert.equal(body.error.code, -32602);
  });

  it('a cross-origin browser request with the session cookie is refused', async () => {
    const res = await mcp(
      '/whoami',
      { jsonrpc: '2.0', id: 1, method: 'tools/list' },
      { cookie, origin: 'https://evil.example' },
    );
    assert.equal(res.status, 403);
  });

  it('the example app at /app (client mode) lists the servers and calls whoami with its token', async () => {
    assert.equal(system.appUrl, `${system.url}/app`);
    const context = await browser.newContext();
    const [name, value] = cookie.split('=') as [string, string];
    await context.addCookies([{ name, value, url: system.url, httpOnly: true, sameSite: 'Lax' }]);
    const page = await context.newPage();
    await page.goto(system.appUrl);
    await page.getByRole('heading', { name: 'Your MCP servers' }).waitFor();
    const list = (await page.textContent('ul')) ?? '';
    assert.match(list, new RegExp(`${system.url}/sqlite.*: connected`));
    assert.match(list, new RegExp(`${system.url}/whoami.*: connected`));
    await page.locator('li', { hasText: '/whoami' }).getByRole('link', { name: 'Tools' }).click();
    await page.getByRole('heading', { name: 'whoami', exact: true, level: 2 }).waitFor();
    await page.getByRole('button', { name: 'Call' }).click();
    const result = (await page.locator('pre').textContent()) ?? '';
    assert.match(result, new RegExp(EMAIL), 'the tool saw the signed-in user, through the token');
    await context.close();
  });

  it('/.pomerium/user returns the signed-in user', async () => {
    const res = await fetch(`${system.url}/.pomerium/user`, { headers: { cookie } });
    assert.equal(res.status, 200);
    const user = (await res.json()) as { email: string; claims: Record<string, unknown> };
    assert.equal(user.email, EMAIL);
    assert.equal(typeof user.claims, 'object');
  });
});
