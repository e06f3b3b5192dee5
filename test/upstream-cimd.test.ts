/**
 * Issue 10, discovered upstreams, the metadata-document path: the upstream's authorization
 * server (oidc-provider) accepts Client ID Metadata Documents, so the gateway, served over
 * https with a test CA, is a client there by the URL of its own document
 * (`https://<route host>/.pomerium/mcp/client/metadata.json`), which the authorization server
 * fetches; nothing is registered.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { rootCertificates } from 'node:tls';
import { after, before, describe, it } from 'node:test';
import { Agent, getGlobalDispatcher, setGlobalDispatcher, type Dispatcher } from 'undici';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { parseConfig } from '../src/config/load.js';
import { hashPassword } from '../src/core/crypto.js';
import { startGateway, type Gateway } from '../src/http/gateway.js';
import { CookieJar } from './support/cookie-jar.js';
import {
  captureLogs,
  freePort,
  TEST_COOKIE_SECRET,
  TEST_SHARED_SECRET,
} from './support/gateway.js';
import { firstText } from './support/mcp-client.js';
import { authorizeWithSdk, BrowserOAuthProvider } from './support/oauth-client.js';
import { createTestCa, type TestCa } from './support/test-ca.js';
import {
  startTokenCheckingServer,
  type TokenCheckingServer,
} from './support/token-checking-server.js';
import { startUpstreamProvider, type UpstreamProvider } from './support/upstream-provider.js';

const PASSWORD = 'upstream cimd test password';
const EMAIL = 'dana@example.com';

describe('upstream tokens: a discovered authorization server that takes client metadata documents', () => {
  let ca: TestCa;
  let provider: UpstreamProvider;
  let remote: TokenCheckingServer;
  let gateway: Gateway;
  let origin: string;
  let dir: string;
  let previous: Dispatcher;

  before(async () => {
    ca = createTestCa();
    // This process's own fetches (the SDK client, the browser) trust the test CA too.
    previous = getGlobalDispatcher();
    setGlobalDispatcher(new Agent({ connect: { ca: [...rootCertificates, ca.caPem] } }));
    const port = await freePort();
    origin = `https://localhost:${port}`;
    const metadata = { path: '/mcp', issuer: '' };
    remote = await startTokenCheckingServer((t) => provider.introspect(t), metadata);
    provider = await startUpstreamProvider({
      redirectUris: [],
      mcpResource: `${remote.url}/mcp`,
      clientIdMetadataDocuments: { ca: ca.caPem },
    });
    metadata.issuer = provider.issuer;
    dir = mkdtempSync(join(tmpdir(), 'portcullis-cimd-upstream-'));
    writeFileSync(join(dir, 'cert.pem'), ca.certPem);
    writeFileSync(join(dir, 'key.pem'), ca.keyPem, { mode: 0o600 });
    const hash = await hashPassword(PASSWORD);
    const yaml = `
address: 127.0.0.1:${port}
certificate_file: ${join(dir, 'cert.pem')}
certificate_key_file: ${join(dir, 'key.pem')}
shared_secret: ${TEST_SHARED_SECRET}
cookie_secret: ${TEST_COOKIE_SECRET}
idp_provider: builtin
databroker_storage_type: memory
builtin_users:
  - { email: ${EMAIL}, name: Dana, password_hash: '${hash}' }
routes:
  - from: ${origin}
    prefix: /remote
    to: ${remote.url}/mcp
    name: Remote
    allow_any_authenticated_user: true
    mcp: { server: {} }
`;
    const { config } = parseConfig(yaml, 'cimd-upstream.yaml', {});
    gateway = await startGateway({ config, logger: captureLogs().logger });
  });
  after(async () => {
    await gateway?.close();
    await remote?.close();
    await provider?.close();
    if (previous) setGlobalDispatcher(previous);
    ca?.remove();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('the gateway publishes its own client metadata document', async () => {
    const res = await fetch(`${origin}/.pomerium/mcp/client/metadata.json`);
    assert.equal(res.status, 200);
    const doc = (await res.json()) as Record<string, unknown>;
    assert.equal(doc.client_id, `${origin}/.pomerium/mcp/client/metadata.json`);
    assert.deepEqual(doc.redirect_uris, [`${origin}/.pomerium/mcp/client/oauth/callback`]);
    assert.equal(doc.token_endpoint_auth_method, 'none');
  });

  it('is a client there by its document: no registration, consent once, calls succeed', async () => {
    const oauth = new BrowserOAuthProvider({
      email: EMAIL,
      password: PASSWORD,
      jar: new CookieJar(),
      upstream: { origin: provider.issuer, account: 'dana-remote' },
    });
    await authorizeWithSdk(oauth, `${origin}/remote`);
    assert.equal(oauth.lastRun?.upstreamShown, true);
    assert.equal(provider.registrations, 0, 'nothing registered');
    const asked = provider.authorizations.at(-1);
    assert.equal(asked?.get('client_id'), `${origin}/.pomerium/mcp/client/metadata.json`);
    assert.equal(asked?.get('resource'), `${remote.url}/mcp`);

    const client = new Client({ name: 'cimd-upstream-test', version: '0.0.0' });
    await client.connect(
      new StreamableHTTPClientTransport(new URL(`${origin}/remote`), { authProvider: oauth }),
    );
    const seen = JSON.parse(firstText(await client.callTool({ name: 'account', arguments: {} })));
    assert.deepEqual(seen, { sub: 'dana-remote', active: true, aud: `${remote.url}/mcp` });
    await client.close();
  });
});
