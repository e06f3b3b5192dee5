/**
 * MCP clients connect with OAuth: the SDK's own client discovers the gateway's authorization
 * server from the 401, registers dynamically, sends the user through sign-in and consent (a
 * cookie-jar browser), exchanges the code with PKCE, then calls the real servers with the token.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { DevSystem } from '../src/cli/dev.js';
import { startTestDevSystem, type TestDevSystem } from './support/dev-system.js';
import { CookieJar } from './support/cookie-jar.js';
import { firstText } from './support/mcp-client.js';
import { authorizeWithSdk, BrowserOAuthProvider } from './support/oauth-client.js';

const EMAIL = 'grace@example.com';
const PASSWORD = 'oauth sdk test password';

describe('MCP SDK client with OAuth through the gateway (npm start)', () => {
  let dev: TestDevSystem;
  let system: DevSystem;
  const jar = new CookieJar();

  before(async () => {
    dev = await startTestDevSystem({
      email: EMAIL,
      password: PASSWORD,
      dirPrefix: 'portcullis-oauth',
    });
    system = dev.system;
  });
  after(async () => {
    await dev?.close();
  });

  async function connect(path: string, provider: BrowserOAuthProvider): Promise<Client> {
    const client = new Client({ name: 'portcullis-oauth-test', version: '0.0.0' });
    await client.connect(
      new StreamableHTTPClientTransport(new URL(`${system.url}${path}`), {
        authProvider: provider,
      }),
    );
    return client;
  }

  it('the SDK authorizes for /sqlite and lists and calls tools with the token', async () => {
    const provider = new BrowserOAuthProvider({ email: EMAIL, password: PASSWORD, jar });
    const tokens = await authorizeWithSdk(provider, `${system.url}/sqlite`);
    assert.equal(provider.registrations, 1, 'registered dynamically');
    assert.equal(provider.lastRun?.signedIn, true, 'signed in through the built-in provider');
    assert.equal(provider.lastRun?.consentShown, true, 'asked for consent');
    assert.equal(tokens.token_type.toLowerCase(), 'bearer');
    assert.ok(tokens.refresh_token, 'a refresh token for a client registered with refresh_token');
    assert.ok((tokens.expires_in ?? 0) <= 15 * 60);
    assert.equal(provider.lastRun?.location.searchParams.get('iss'), system.url, 'RFC 9207 iss');

    const client = await connect('/sqlite', provider);
    const tools = await client.listTools();
    const names = tools.tools.map((t) => t.name).sort();
    assert.ok(names.includes('list_tables'));
    assert.equal(names.includes('update'), false, 'tools/list is filtered by policy');
    const listed = firstText(await client.callTool({ name: 'list_tables', arguments: {} }));
    assert.match(listed, /\w/);
    await client.close();
  });

  it('a second server needs its own token; whoami returns the signed-in user', async () => {
    const provider = new BrowserOAuthProvider({ email: EMAIL, password: PASSWORD, jar });
    await authorizeWithSdk(provider, `${system.url}/whoami`);
    assert.equal(provider.lastRun?.signedIn, false, 'the gateway session is reused');
    const client = await connect('/whoami', provider);
    const text = firstText(await client.callTool({ name: 'whoami', arguments: {} }));
    assert.match(text, new RegExp(EMAIL));
    await client.close();
  });
});
