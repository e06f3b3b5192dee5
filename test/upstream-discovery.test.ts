/**
 * Issue 10, discovered upstreams: a remote MCP server protected by its own OAuth (as hosted
 * Notion, Linear or GitHub servers are) behind a plain `mcp: {server: {}}` route. The server
 * publishes RFC 9728 metadata and names it in its 401s; its authorization server (oidc-provider)
 * has RFC 8414 metadata, open dynamic registration and audience-bound tokens (RFC 8707). The
 * gateway finds it all, registers once (also across a restart), sends the user through the
 * upstream's consent once, and every tool call carries the user's upstream token.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Agent, fetch as undiciFetch } from 'undici';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { parseConfig } from '../src/config/load.js';
import { hashPassword } from '../src/core/crypto.js';
import { startGateway, type Gateway } from '../src/http/gateway.js';
import { CookieJar } from './support/cookie-jar.js';
import { captureLogs, freePort, gatewayYamlHead, type LogCapture } from './support/gateway.js';
import { firstText } from './support/mcp-client.js';
import { authorizeWithSdk, BrowserOAuthProvider } from './support/oauth-client.js';
import {
  startTokenCheckingServer,
  type TokenCheckingServer,
} from './support/token-checking-server.js';
import { startUpstreamProvider, type UpstreamProvider } from './support/upstream-provider.js';

const PASSWORD = 'upstream discovery test password';
const ALICE = 'alice@example.com';

describe('upstream tokens: a discovered upstream behind mcp: {server: {}}', () => {
  let provider: UpstreamProvider;
  let remote: TokenCheckingServer;
  /** Names an authorization server outside mcp_allowed_as_metadata_domains. */
  let foreign: TokenCheckingServer;
  let gateway: Gateway;
  let logs: LogCapture;
  let origin: string;
  let yaml: string;
  let dir: string;

  before(async () => {
    const port = await freePort();
    origin = `http://localhost:${port}`;
    // Each names the other: the server's metadata is filled in once the provider runs.
    const remoteMetadata = { path: '/mcp', issuer: '' };
    const foreignMetadata = { path: '/mcp', issuer: '' };
    remote = await startTokenCheckingServer((t) => provider.introspect(t), remoteMetadata);
    foreign = await startTokenCheckingServer((t) => provider.introspect(t), foreignMetadata);
    provider = await startUpstreamProvider({ redirectUris: [], mcpResource: `${remote.url}/mcp` });
    remoteMetadata.issuer = provider.issuer;
    foreignMetadata.issuer = provider.issuer.replace('127.0.0.1', 'localhost');
    dir = mkdtempSync(join(tmpdir(), 'portcullis-discovery-'));
    const hash = await hashPassword(PASSWORD);
    yaml = `
${gatewayYamlHead(port)}
databroker_storage_type: sqlite
databroker_storage_connection_string: ${join(dir, 'gateway.db')}
mcp_allowed_as_metadata_domains: [127.0.0.1]
mcp_allowed_private_hosts: [127.0.0.1, localhost]
builtin_users:
  - { email: ${ALICE}, name: Alice, password_hash: '${hash}' }
routes:
  - from: ${origin}
    prefix: /remote
    to: ${remote.url}/mcp
    name: Remote
    allow_any_authenticated_user: true
    mcp: { server: {} }
  - from: ${origin}
    prefix: /foreign
    to: ${foreign.url}/mcp
    name: Foreign
    allow_any_authenticated_user: true
    mcp: { server: {} }
`;
    gateway = await start();
  });
  after(async () => {
    await gateway?.close();
    await remote?.close();
    await foreign?.close();
    await provider?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  async function start(): Promise<Gateway> {
    const { config } = parseConfig(yaml, 'discovery-test.yaml', {});
    logs = captureLogs();
    return startGateway({ config, logger: logs.logger });
  }

  let alice: BrowserOAuthProvider;

  /** `pool`: fresh connections (sockets to a gateway that was stopped are gone). */
  async function connect(path: string, oauth: BrowserOAuthProvider, pool?: Agent): Promise<Client> {
    const client = new Client({ name: 'discovery-test', version: '0.0.0' });
    const fetchVia = pool
      ? {
          fetch: ((url: string | URL, init?: RequestInit) =>
            undiciFetch(url, {
              ...(init as Parameters<typeof undiciFetch>[1]),
              dispatcher: pool,
            })) as unknown as typeof fetch,
        }
      : {};
    await client.connect(
      new StreamableHTTPClientTransport(new URL(`${origin}${path}`), {
        authProvider: oauth,
        ...fetchVia,
      }),
    );
    return client;
  }

  async function account(client: Client) {
    const result = await client.callTool({ name: 'account', arguments: {} });
    return JSON.parse(firstText(result)) as { sub: string; active: boolean; aud?: unknown };
  }

  it('registers at the discovered authorization server, consents once, calls with an audience-bound token', async () => {
    const oauth = new BrowserOAuthProvider({
      email: ALICE,
      password: PASSWORD,
      jar: new CookieJar(),
      upstream: { origin: provider.issuer, account: 'alice-remote' },
    });
    alice = oauth;
    await authorizeWithSdk(oauth, `${origin}/remote`);
    assert.equal(oauth.lastRun?.upstreamShown, true, 'the upstream’s consent before the code');
    assert.equal(provider.registrations, 1, 'the gateway registered itself');
    const asked = provider.authorizations.at(-1);
    assert.equal(asked?.get('resource'), `${remote.url}/mcp`, 'RFC 8707 resource, always');
    assert.equal(asked?.get('scope'), 'read', 'scopes from the resource metadata');
    assert.equal(provider.tokenRequests.at(-1)?.form.get('resource'), `${remote.url}/mcp`);

    const client = await connect('/remote', oauth);
    const seen = await account(client);
    assert.equal(seen.sub, 'alice-remote');
    assert.equal(seen.active, true);
    assert.equal(seen.aud, `${remote.url}/mcp`, 'the token is for this server only');
    await client.close();
  });

  it('after a restart: no new registration, no new consent; the 401 teaches the route again', async () => {
    await gateway.close();
    gateway = await start();
    const refusedBefore = remote.refused;
    // Its first request (initialize) goes without a token and is answered 401: it learns.
    const pool = new Agent();
    const client = await connect('/remote', alice, pool);
    assert.equal(remote.refused, refusedBefore + 1, 'first sent without a token, then with it');
    assert.equal((await account(client)).sub, 'alice-remote');
    assert.equal(provider.registrations, 1, 'the stored registration is used');
    assert.equal((await account(client)).sub, 'alice-remote');
    assert.equal(remote.refused, refusedBefore + 1, 'known from then on');
    assert.match(logs.text(), /upstream OAuth discovered/);
    await client.close();
    await pool.close();
  });

  it('an authorization server outside mcp_allowed_as_metadata_domains is never called', async () => {
    const before = provider.registrations;
    const oauth = new BrowserOAuthProvider({
      email: ALICE,
      password: PASSWORD,
      jar: new CookieJar(),
      upstream: { origin: provider.issuer, account: 'alice-foreign' },
    });
    await authorizeWithSdk(oauth, `${origin}/foreign`);
    assert.equal(oauth.lastRun?.upstreamShown, false);
    // The first request (initialize) meets the upstream's 401, which the gateway cannot meet.
    await assert.rejects(connect('/foreign', oauth), /502|could not obtain/);
    assert.equal(provider.registrations, before);
    assert.match(logs.text(), /not in mcp_allowed_as_metadata_domains/);
  });
});
