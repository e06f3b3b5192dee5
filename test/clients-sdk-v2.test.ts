/**
 * The TypeScript SDK v2 client (`@modelcontextprotocol/client`, a package nobody here wrote)
 * against the system of `npm start`: its Streamable HTTP transport meets the 401, its OAuth
 * code discovers, registers and builds the authorization URL, Chromium signs in and allows,
 * then it lists and calls tools, and after its access token expires it refreshes on its own.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import {
  Client,
  StreamableHTTPClientTransport,
  UnauthorizedError,
  type OAuthClientMetadata,
  type OAuthClientProvider,
  type OAuthDiscoveryState,
  type StoredOAuthClientInformation,
  type StoredOAuthTokens,
} from '@modelcontextprotocol/client';
import {
  assertRefreshedWithoutBrowser,
  startClientRig,
  toolNames,
  type ClientRig,
} from './support/client-rig.js';
import { firstText } from './support/mcp-client.js';

/** The client's loopback redirect: answers the browser, the test reads the URL it landed on. */
async function startCallbackSite(): Promise<{ url: string; close(): Promise<void> }> {
  const server: Server = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/html' }).end('<p>You can close this tab.</p>');
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/callback`,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

/** An in-memory provider whose "browser" is Chromium; it keeps where the browser landed. */
class ChromiumProvider implements OAuthClientProvider {
  private info: StoredOAuthClientInformation | undefined;
  private saved: StoredOAuthTokens | undefined;
  private discovery: OAuthDiscoveryState | undefined;
  private verifier = '';
  readonly sentState = randomUUID();
  landed: URL | undefined;

  constructor(
    readonly redirectUrl: string,
    private readonly approve: (url: URL) => Promise<URL>,
  ) {}

  get clientMetadata(): OAuthClientMetadata {
    return {
      client_name: 'SDK v2 client test',
      redirect_uris: [this.redirectUrl],
      token_endpoint_auth_method: 'none',
    };
  }
  clientInformation = () => this.info;
  saveClientInformation = (info: StoredOAuthClientInformation) => void (this.info = info);
  tokens = () => this.saved;
  saveTokens = (tokens: StoredOAuthTokens) => void (this.saved = tokens);
  state = () => this.sentState;
  saveCodeVerifier = (verifier: string) => void (this.verifier = verifier);
  codeVerifier = () => this.verifier;
  saveDiscoveryState = (state: OAuthDiscoveryState) => void (this.discovery = state);
  discoveryState = () => this.discovery;
  async redirectToAuthorization(url: URL) {
    this.landed = await this.approve(url);
  }
}

describe('@modelcontextprotocol/client 2.x through the gateway of npm start', () => {
  let rig: ClientRig;
  let site: Awaited<ReturnType<typeof startCallbackSite>>;
  let provider: ChromiumProvider;
  let sqlite: URL;
  const newClient = (options?: ConstructorParameters<typeof Client>[1]) =>
    new Client({ name: 'portcullis-sdk-v2-test', version: '0.0.0' }, options);

  before(async () => {
    rig = await startClientRig('sdk-v2');
    site = await startCallbackSite();
    sqlite = new URL(`${rig.system.url}/sqlite`);
    provider = new ChromiumProvider(site.url, async (authorizationUrl) => {
      const consent = await rig.approve(authorizationUrl);
      assert.match(consent.consentText, /SDK v2 client test/);
      return consent.landed;
    });
  });
  after(async () => {
    await site?.close();
    await rig?.close();
  });

  it('authorizes in Chromium, lists and calls tools, refreshes after the token expires', async () => {
    // The first connect meets the 401 and sends the person through the browser.
    const transport = new StreamableHTTPClientTransport(sqlite, { authProvider: provider });
    await assert.rejects(newClient().connect(transport), UnauthorizedError);
    const landed = provider.landed;
    assert.ok(landed && landed.href.startsWith(site.url), `landed at ${landed?.href}`);
    assert.equal(landed.searchParams.get('state'), provider.sentState);
    await transport.finishAuth(landed.searchParams);
    assert.ok(provider.tokens()?.refresh_token, 'a refresh token came with the code exchange');

    const client = newClient();
    await client.connect(new StreamableHTTPClientTransport(sqlite, { authProvider: provider }));
    try {
      const names = toolNames(await client.listTools());
      assert.ok(names.includes('read_query'), names.join());
      assert.equal(names.includes('update'), false, 'the denied tool is not listed');
      const counted = firstText(
        await client.callTool({
          name: 'read_query',
          arguments: { query: 'SELECT count(*) AS n FROM products' },
        }),
      );
      assert.match(counted, /"n":\s*\d+/);

      await rig.outliveAccessTokens();
      const mark = rig.log.entries.length;
      const issued = provider.tokens()?.access_token;
      const again = firstText(
        await client.callTool({ name: 'read_query', arguments: { query: 'SELECT 7 AS seven' } }),
      );
      assert.match(again, /"seven":\s*7/);
      assertRefreshedWithoutBrowser(rig.log, mark);
      assert.notEqual(provider.tokens()?.access_token, issued, 'a new access token was saved');
    } finally {
      await client.close();
    }
  });

  it('a second server asks for its own token; whoami names the signed-in user', async () => {
    // Tokens are bound to one MCP server (RFC 8707): /whoami sends the client through the
    // browser again, where the gateway session is still live (consent, no sign-in).
    let signedIn: boolean | undefined;
    const whoamiProvider = new ChromiumProvider(site.url, async (authorizationUrl) => {
      const consent = await rig.approve(authorizationUrl);
      signedIn = consent.signedIn;
      return consent.landed;
    });
    const url = new URL(`${rig.system.url}/whoami`);
    const transport = new StreamableHTTPClientTransport(url, { authProvider: whoamiProvider });
    await assert.rejects(newClient().connect(transport), UnauthorizedError);
    assert.ok(whoamiProvider.landed);
    await transport.finishAuth(whoamiProvider.landed.searchParams);
    assert.equal(signedIn, false, 'the gateway session was reused');

    const client = newClient();
    await client.connect(new StreamableHTTPClientTransport(url, { authProvider: whoamiProvider }));
    try {
      const text = firstText(await client.callTool({ name: 'whoami', arguments: {} }));
      assert.ok(text.includes(rig.user.email), text);
    } finally {
      await client.close();
    }
  });

  it("in 'auto' negotiation the server/discover probe falls back to initialize", async () => {
    // The 2026-07-28 probe goes through the gateway to servers that speak 2025-11-25; they
    // refuse it as legacy servers do and the client connects with initialize (same tokens).
    assert.ok(provider.tokens(), 'authorized by the test before');
    const client = newClient({ versionNegotiation: { mode: 'auto' } });
    await client.connect(new StreamableHTTPClientTransport(sqlite, { authProvider: provider }));
    try {
      assert.equal(client.getProtocolEra(), 'legacy');
      const names = toolNames(await client.listTools());
      assert.ok(names.includes('read_query'), names.join());
      assert.equal(names.includes('update'), false, 'the denied tool is not listed');
    } finally {
      await client.close();
    }
  });
});
