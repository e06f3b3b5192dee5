/**
 * Client ID Metadata Documents through the real gateway and servers host: a client whose
 * `client_id` is an https URL served by the test (a test CA of its own), as the MCP SDK client
 * and ChatGPT (`private_key_jwt` + `jwks_uri`) use them; the refusals (host not allowed, private
 * address without the allow-list, oversize, `client_id` not its own URL, shared-secret method,
 * bad redirect URI) and the cache.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey } from 'jose';
import { startCimdHost, type CimdHost } from './support/cimd-host.js';
import type { CookieJar } from './support/cookie-jar.js';
import { connectClient } from './support/mcp-client.js';
import { authorizeInBrowser } from './support/oauth-browser.js';
import { authorizeWithSdk, BrowserOAuthProvider } from './support/oauth-client.js';
import { authorizationUrl, pkce, tokenRequest } from './support/oauth-flow.js';
import {
  REAL_EMAIL,
  REAL_NAME,
  REAL_PASSWORD,
  spawnRealGateway,
  startRealGateway,
  type RealGateway,
} from './support/real-gateway.js';
import { createTestCa, type TestCa } from './support/test-ca.js';

const SDK_REDIRECT = 'http://127.0.0.1:53682/callback';
const CHATGPT_REDIRECT = 'https://chatgpt.com/connector_platform_oauth_redirect';
const CACHED = { 'cache-control': 'public, max-age=300' };

/** The SDK's OAuth client, told to use a URL as its client_id (SEP-991). */
class MetadataUrlProvider extends BrowserOAuthProvider {
  constructor(
    readonly clientMetadataUrl: string,
    jar: CookieJar,
  ) {
    super({ email: REAL_EMAIL, password: REAL_PASSWORD, jar });
  }
}

const publicDocument = (clientId: string, extra: Record<string, unknown> = {}) => ({
  client_id: clientId,
  client_name: 'CIMD test client',
  redirect_uris: [SDK_REDIRECT],
  grant_types: ['authorization_code', 'refresh_token'],
  response_types: ['code'],
  token_endpoint_auth_method: 'none',
  ...extra,
});

interface FirstHop {
  readonly status: number;
  readonly location: string | null;
  readonly body: string;
}

/** The gateway's answer to an authorization request for `clientId` (no redirects followed). */
async function authorizeFirstHop(origin: string, clientId: string): Promise<FirstHop> {
  const url = authorizationUrl(origin, {
    client_id: clientId,
    redirect_uri: SDK_REDIRECT,
    code_challenge: pkce().challenge,
    resource: `${origin}/whoami`,
  });
  const res = await fetch(url, { redirect: 'manual' });
  return { status: res.status, location: res.headers.get('location'), body: await res.text() };
}

/** A refusal renders a page and never redirects (STYLE §4): the client is not known good. */
function assertRefused(hop: FirstHop, what: string): void {
  assert.equal(hop.location, null, `${what}: redirected to ${hop.location}`);
  assert.ok(hop.status >= 400 && hop.status < 500, `${what}: status ${hop.status}`);
  assert.match(hop.body, /Authorization failed/, what);
}

function assertAccepted(hop: FirstHop, what: string): void {
  assert.equal(hop.status, 303, `${what}: ${hop.status} ${hop.body.slice(0, 300)}`);
  assert.match(hop.location ?? '', /\/\.pomerium\/mcp\/interaction\//, what);
}

async function whoamiEmail(origin: string, token: string): Promise<unknown> {
  const client = await connectClient(`${origin}/whoami`, { authorization: `Bearer ${token}` });
  try {
    const result = await client.callTool({ name: 'whoami', arguments: {} });
    return (result.structuredContent as { email?: unknown } | undefined)?.email;
  } finally {
    await client.close();
  }
}

describe('Client ID Metadata Documents (in-process gateway, test CA via cimdFetch.ca)', () => {
  let ca: TestCa;
  let docs: CimdHost;
  let gw: RealGateway;

  before(async () => {
    ca = createTestCa();
    docs = await startCimdHost(ca);
    gw = await startRealGateway(
      'mcp_allowed_client_id_domains: [localhost]\nmcp_allowed_private_hosts: [localhost, 127.0.0.1]',
      { cimdFetch: { ca: ca.caPem } },
    );
  });
  after(async () => {
    await gw?.close();
    await docs?.close();
    ca?.remove();
  });

  it('the SDK client uses its metadata URL as client_id, then calls whoami with the token', async () => {
    const url = docs.url('/sdk/client.json');
    docs.serve('/sdk/client.json', publicDocument(url), CACHED);
    const as = (await (
      await fetch(`${gw.origin}/.well-known/oauth-authorization-server`)
    ).json()) as Record<string, unknown>;
    assert.equal(as.client_id_metadata_document_supported, true);

    const provider = new MetadataUrlProvider(url, gw.jar);
    const tokens = await authorizeWithSdk(provider, `${gw.origin}/whoami`);
    assert.equal(provider.clientInformation()?.client_id, url, 'no dynamic registration');
    const consent = provider.lastRun?.consentPage?.body ?? '';
    assert.match(consent, /CIMD test client/);
    assert.match(consent, new RegExp(`from <code>localhost:${docs.port}</code>`), 'document host');

    const client = new Client({ name: 'cimd-test', version: '0.0.0' });
    await client.connect(
      new StreamableHTTPClientTransport(new URL(`${gw.origin}/whoami`), { authProvider: provider }),
    );
    const result = await client.callTool({ name: 'whoami', arguments: {} });
    assert.deepEqual(result.structuredContent, {
      name: REAL_NAME,
      email: REAL_EMAIL,
      sub: (result.structuredContent as { sub: string }).sub,
      groups: ['staff'],
    });
    await client.close();
    assert.ok(tokens.access_token);
    // Authorization and token requests both needed the client: one fetch (cached).
    assert.equal(docs.fetches('/sdk/client.json'), 1);

    // A second authorization within the cache time does not fetch again.
    const again = await authorizeInBrowser(
      authorizationUrl(gw.origin, {
        client_id: url,
        redirect_uri: SDK_REDIRECT,
        code_challenge: pkce().challenge,
        resource: `${gw.origin}/whoami`,
        scope: 'mcp', // what the SDK asked for (the challenge's scope): offline_access asks again
      }),
      { email: REAL_EMAIL, password: REAL_PASSWORD, jar: gw.jar },
    );
    assert.ok(again.location.searchParams.get('code'));
    assert.equal(again.consentShown, false, 'consent remembered');
    assert.equal(docs.fetches('/sdk/client.json'), 1, 'served from the cache');
  });

  it('a ChatGPT-style client (private_key_jwt, jwks_uri) exchanges its code with a signed assertion', async () => {
    const { privateKey, publicKey } = await generateKeyPair('ES256');
    const { privateKey: otherKey } = await generateKeyPair('ES256');
    const jwk = { ...(await exportJWK(publicKey)), kid: 'chatgpt-1', use: 'sig', alg: 'ES256' };
    docs.serve('/chatgpt/jwks.json', { keys: [jwk] }, CACHED);
    const clientId = docs.url('/chatgpt/client.json');
    docs.serve(
      '/chatgpt/client.json',
      {
        client_id: clientId,
        client_name: 'ChatGPT',
        redirect_uris: [CHATGPT_REDIRECT],
        grant_types: ['authorization_code', 'refresh_token'],
        response_types: ['code'],
        token_endpoint_auth_method: 'private_key_jwt',
        token_endpoint_auth_signing_alg: 'ES256',
        jwks_uri: docs.url('/chatgpt/jwks.json'),
      },
      CACHED,
    );
    const { verifier, challenge } = pkce();
    const run = await authorizeInBrowser(
      authorizationUrl(gw.origin, {
        client_id: clientId,
        redirect_uri: CHATGPT_REDIRECT,
        code_challenge: challenge,
        resource: `${gw.origin}/whoami`,
      }),
      { email: REAL_EMAIL, password: REAL_PASSWORD, jar: gw.jar },
    );
    assert.equal(run.location.origin + run.location.pathname, CHATGPT_REDIRECT);
    assert.match(run.consentPage?.body ?? '', /ChatGPT/);
    const code = run.location.searchParams.get('code');
    assert.ok(code, run.location.href);

    const assertion = (key: CryptoKey) =>
      new SignJWT({})
        .setProtectedHeader({ alg: 'ES256', kid: 'chatgpt-1' })
        .setIssuer(clientId)
        .setSubject(clientId)
        .setAudience(gw.origin)
        .setJti(randomUUID())
        .setIssuedAt()
        .setExpirationTime('1m')
        .sign(key);
    const exchange = async (key: CryptoKey | undefined) =>
      tokenRequest(gw.origin, {
        grant_type: 'authorization_code',
        code,
        code_verifier: verifier,
        redirect_uri: CHATGPT_REDIRECT,
        resource: `${gw.origin}/whoami`,
        ...(key
          ? {
              client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
              client_assertion: await assertion(key),
            }
          : { client_id: clientId }),
      });

    const unsigned = await exchange(undefined);
    assert.equal(unsigned.status, 401, JSON.stringify(unsigned.body));
    assert.equal(unsigned.body.error, 'invalid_client');
    const forged = await exchange(otherKey);
    assert.equal(forged.status, 401, JSON.stringify(forged.body));
    assert.equal(forged.body.error, 'invalid_client');

    const good = await exchange(privateKey);
    assert.equal(good.status, 200, JSON.stringify(good.body));
    assert.equal(typeof good.body.access_token, 'string');
    assert.equal(await whoamiEmail(gw.origin, String(good.body.access_token)), REAL_EMAIL);
    assert.ok(docs.fetches('/chatgpt/jwks.json') >= 1, 'keys came from its jwks_uri');
    assert.equal(docs.fetches('/chatgpt/client.json'), 1);
  });

  it('refuses a document on a host not in mcp_allowed_client_id_domains, without fetching', async () => {
    const url = docs.url('/not-allowed.json', '127.0.0.1');
    docs.serve('/not-allowed.json', publicDocument(url));
    const connections = docs.connections();
    assertRefused(await authorizeFirstHop(gw.origin, url), 'host not allowed');
    assert.equal(docs.fetches('/not-allowed.json'), 0);
    assert.equal(docs.connections(), connections, 'no connection was even opened');
  });

  it('refuses an oversize document (over 5 KiB)', async () => {
    const url = docs.url('/big.json');
    docs.serve('/big.json', publicDocument(url, { contacts: ['x'.repeat(6 * 1024)] }));
    assertRefused(await authorizeFirstHop(gw.origin, url), 'oversize');
    // Fetched (refused for its size, not unseen), once: oidc-provider's error handler looks the
    // client up again, within the same request.
    assert.equal(docs.fetches('/big.json'), 1);
    assert.match(gw.logText(), /response too large/);
  });

  it('refuses a document whose client_id is not its own URL', async () => {
    const url = docs.url('/mismatch.json');
    docs.serve('/mismatch.json', publicDocument(docs.url('/somewhere-else.json')));
    assertRefused(await authorizeFirstHop(gw.origin, url), 'client_id mismatch');
    assert.match(gw.logText(), /client_id does not match/);
  });

  it('refuses shared-secret methods and redirect URIs that registration would refuse', async () => {
    const secret = docs.url('/secret.json');
    docs.serve(
      '/secret.json',
      publicDocument(secret, { token_endpoint_auth_method: 'client_secret_post' }),
    );
    assertRefused(await authorizeFirstHop(gw.origin, secret), 'client_secret_post');
    const plainHttp = docs.url('/plain-http.json');
    docs.serve(
      '/plain-http.json',
      publicDocument(plainHttp, { redirect_uris: ['http://evil.example/callback', SDK_REDIRECT] }),
    );
    assertRefused(await authorizeFirstHop(gw.origin, plainHttp), 'non-loopback http redirect');
  });

  it('a document that is not JSON, or not found, is refused', async () => {
    const notJson = docs.url('/not-json.json');
    docs.serve('/not-json.json', '<html>hello</html>');
    assertRefused(await authorizeFirstHop(gw.origin, notJson), 'not JSON');
    assertRefused(await authorizeFirstHop(gw.origin, docs.url('/missing.json')), '404');
  });
});

describe('Client ID Metadata Documents (the shipped CLI, NODE_EXTRA_CA_CERTS)', () => {
  let ca: TestCa;
  let docs: CimdHost;
  // Two gateways that differ only in mcp_allowed_private_hosts (given by environment).
  let guarded: RealGateway;
  let listed: RealGateway;

  before(async () => {
    ca = createTestCa();
    docs = await startCimdHost(ca);
    const yaml = 'mcp_allowed_client_id_domains: [localhost, 127.0.0.1]';
    [guarded, listed] = await Promise.all([
      spawnRealGateway(yaml, {
        NODE_EXTRA_CA_CERTS: ca.caFile,
        MCP_ALLOWED_PRIVATE_HOSTS: 'localhost',
      }),
      spawnRealGateway(yaml, {
        NODE_EXTRA_CA_CERTS: ca.caFile,
        MCP_ALLOWED_PRIVATE_HOSTS: 'localhost,127.0.0.1',
      }),
    ]);
  });
  after(async () => {
    await guarded?.close();
    await listed?.close();
    await docs?.close();
    ca?.remove();
  });

  it('fetches from an allow-listed private host, and refuses a private address that is not', async () => {
    const byName = docs.url('/by-name.json');
    docs.serve('/by-name.json', publicDocument(byName));
    assertAccepted(await authorizeFirstHop(guarded.origin, byName), 'allow-listed localhost');
    assert.equal(docs.fetches('/by-name.json'), 1);

    // The same server by address: in mcp_allowed_client_id_domains and its certificate trusted
    // (the SAN names 127.0.0.1), but loopback, so only the gateway that allow-lists it fetches.
    const byAddress = docs.url('/by-address.json', '127.0.0.1');
    docs.serve('/by-address.json', publicDocument(byAddress));
    const connections = docs.connections();
    assertRefused(await authorizeFirstHop(guarded.origin, byAddress), 'private address');
    assert.equal(docs.fetches('/by-address.json'), 0, 'no request reached the document');
    assert.equal(docs.connections(), connections, 'refused before connecting');
    assertAccepted(await authorizeFirstHop(listed.origin, byAddress), 'allow-listed address');
    assert.equal(docs.fetches('/by-address.json'), 1);
  });
});
