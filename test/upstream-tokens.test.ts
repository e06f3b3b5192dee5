/**
 * Issue 10, flow 2: an MCP server that needs the user's token at an upstream service gets it
 * from the gateway and never does OAuth itself. A real OAuth provider (oidc-provider: 5-second
 * access tokens, rotating refresh tokens, introspection) is the upstream; the MCP server behind
 * the gateway checks every token it receives by introspection at that provider. The SDK's own
 * client authorizes through sign-in, consent and the upstream's consent, then calls tools.
 * The gateway's clock is injected: tokens come due without waiting.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Sqlite from 'better-sqlite3';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { UnauthorizedError } from '@modelcontextprotocol/sdk/client/auth.js';
import { parseConfig } from '../src/config/load.js';
import { hashPassword } from '../src/core/crypto.js';
import { startGateway, type Gateway } from '../src/http/gateway.js';
import { CookieJar, follow, send } from './support/cookie-jar.js';
import { captureLogs, freePort, gatewayYamlHead, type LogCapture } from './support/gateway.js';
import { firstText } from './support/mcp-client.js';
import { authorizeWithSdk, BrowserOAuthProvider } from './support/oauth-client.js';
import { authorizeInBrowser } from './support/oauth-browser.js';
import {
  startTokenCheckingServer,
  type TokenCheckingServer,
} from './support/token-checking-server.js';
import { startUpstreamProvider, type UpstreamProvider } from './support/upstream-provider.js';

const PASSWORD = 'upstream tokens test password';
const ALICE = 'alice@example.com';
const BOB = 'bob@example.com';
/** Never connects the upstream service. */
const CAROL = 'carol@example.com';

describe('upstream tokens: static upstream_oauth2 (flow 2)', () => {
  let provider: UpstreamProvider;
  let server: TokenCheckingServer;
  let gateway: Gateway;
  let logs: LogCapture;
  let origin: string;
  let dir: string;
  let skew = 0;
  const clientTokens: string[] = [];

  before(async () => {
    const port = await freePort();
    origin = `http://localhost:${port}`;
    provider = await startUpstreamProvider({
      redirectUris: [`${origin}/.pomerium/mcp/client/oauth/callback`],
    });
    server = await startTokenCheckingServer((t) => provider.introspect(t));
    dir = mkdtempSync(join(tmpdir(), 'portcullis-upstream-'));
    const hash = await hashPassword(PASSWORD);
    const yaml = `
${gatewayYamlHead(port)}
databroker_storage_type: sqlite
databroker_storage_connection_string: ${join(dir, 'gateway.db')}
builtin_users:
  - { email: ${ALICE}, name: Alice, password_hash: '${hash}' }
  - { email: ${BOB}, name: Bob, password_hash: '${hash}' }
  - { email: ${CAROL}, name: Carol, password_hash: '${hash}' }
routes:
  - from: ${origin}
    prefix: /notes
    to: ${server.url}
    name: Notes
    allow_any_authenticated_user: true
    mcp:
      server:
        upstream_oauth2:
          client_id: ${provider.clientId}
          client_secret: ${provider.clientSecret}
          scopes: [read]
          # write is asked for only when the server says it needs it (403 insufficient_scope)
          authorization_url_params: { owner: user }
          endpoint:
            auth_url: ${provider.authUrl}
            token_url: ${provider.tokenUrl}
            auth_style: header
`;
    const { config } = parseConfig(yaml, 'upstream-test.yaml', {});
    logs = captureLogs();
    gateway = await startGateway({
      config,
      logger: logs.logger,
      upstream: { now: () => Date.now() + skew },
    });
  });
  after(async () => {
    await gateway?.close();
    await server?.close();
    await provider?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  function browser(email: string, account: string, decision: 'allow' | 'deny' = 'allow') {
    return new BrowserOAuthProvider({
      email,
      password: PASSWORD,
      jar: new CookieJar(),
      upstream: { origin: provider.issuer, account, decision },
    });
  }

  async function connect(oauth: BrowserOAuthProvider): Promise<Client> {
    const client = new Client({ name: 'upstream-test', version: '0.0.0' });
    await client.connect(
      new StreamableHTTPClientTransport(new URL(`${origin}/notes`), { authProvider: oauth }),
    );
    return client;
  }

  async function account(client: Client): Promise<{ sub: string; active: boolean }> {
    const result = await client.callTool({ name: 'account', arguments: {} });
    return JSON.parse(firstText(result)) as { sub: string; active: boolean };
  }

  /** The upstream tokens the server received, newest last. */
  const upstreamTokens = () =>
    server.authorizations.flatMap((a) => (a ? [a.replace(/^Bearer /, '')] : []));

  let alice: BrowserOAuthProvider;
  let aliceClient: Client;

  it('authorizes through sign-in, consent and the upstream consent; the tool sees a valid upstream token', async () => {
    alice = browser(ALICE, 'alice-at-service');
    const tokens = await authorizeWithSdk(alice, `${origin}/notes`);
    clientTokens.push(tokens.access_token, tokens.refresh_token ?? '');
    assert.equal(alice.lastRun?.signedIn, true);
    assert.equal(alice.lastRun?.consentShown, true);
    assert.equal(alice.lastRun?.upstreamShown, true, 'sent to the upstream before the code');

    const asked = provider.authorizations.at(-1);
    assert.ok(asked);
    assert.equal(asked.get('owner'), 'user', 'authorization_url_params');
    assert.equal(asked.get('code_challenge_method'), 'S256');
    assert.ok(asked.get('state'));
    assert.equal(asked.get('scope'), 'read');
    assert.equal(asked.get('resource'), null, 'resource only when configured (static mode)');
    const exchange = provider.tokenRequests.at(-1);
    assert.match(exchange?.authorization ?? '', /^Basic /, 'auth_style header');
    assert.equal(exchange?.form.get('client_secret'), null);
    assert.ok(exchange?.form.get('code_verifier'), 'PKCE');

    aliceClient = await connect(alice);
    assert.deepEqual(await account(aliceClient), { sub: 'alice-at-service', active: true });
    const seen = upstreamTokens().at(-1);
    assert.ok(seen);
    assert.notEqual(seen, tokens.access_token, 'the client’s own token never reaches the server');
    assert.equal((await provider.introspect(tokens.access_token)).active, false);
  });

  it('refreshes ahead of expiry (less than a third of the life left)', async () => {
    const before = provider.refreshes;
    const old = upstreamTokens().at(-1);
    skew += 3_500; // 1.5 s of a 5 s token left: due
    assert.deepEqual(await account(aliceClient), { sub: 'alice-at-service', active: true });
    assert.equal(provider.refreshes, before + 1);
    assert.notEqual(upstreamTokens().at(-1), old);
    assert.equal(await account(aliceClient).then((a) => a.sub), 'alice-at-service');
    assert.equal(provider.refreshes, before + 1, 'a fresh token is not refreshed again');
  });

  it('50 concurrent calls after expiry cause exactly one refresh, and all succeed', async () => {
    const before = provider.refreshes;
    skew += 60_000;
    const results = await Promise.all(Array.from({ length: 50 }, () => account(aliceClient)));
    assert.equal(results.filter((r) => r.sub === 'alice-at-service' && r.active).length, 50);
    assert.equal(provider.refreshes, before + 1, 'one refresh for 50 calls');
    assert.equal(provider.refusedRefreshes, 0, 'no refresh raced a rotated token');
  });

  it('an upstream 401 to a token it no longer accepts: one refresh, one retry, success', async () => {
    const current = upstreamTokens().at(-1);
    assert.ok(current);
    const stored = await provider.provider.AccessToken.find(current);
    await (stored as unknown as { destroy(): Promise<void> }).destroy();
    const [refreshes, refused] = [provider.refreshes, server.refused];
    assert.deepEqual(await account(aliceClient), { sub: 'alice-at-service', active: true });
    assert.equal(server.refused, refused + 1, 'the server refused the old token once');
    assert.equal(provider.refreshes, refreshes + 1);
  });

  it('two users never see each other’s upstream tokens', async () => {
    const bob = browser(BOB, 'bob-at-service');
    await authorizeWithSdk(bob, `${origin}/notes`);
    assert.equal(bob.lastRun?.upstreamShown, true, 'Bob connects his own account');
    const bobClient = await connect(bob);
    const both = await Promise.all([account(bobClient), account(aliceClient), account(bobClient)]);
    assert.deepEqual(
      both.map((r) => r.sub),
      ['bob-at-service', 'alice-at-service', 'bob-at-service'],
    );
    await bobClient.close();
  });

  it('a provider outage is a 502 that keeps the stored token; service resumes after it', async () => {
    skew += 60_000;
    provider.outage = true;
    try {
      await assert.rejects(account(aliceClient), /502|unavailable/);
    } finally {
      provider.outage = false;
    }
    assert.deepEqual(await account(aliceClient), { sub: 'alice-at-service', active: true });
  });

  it('a revoked upstream grant: the SDK client re-authorizes through the upstream, unaided', async () => {
    await provider.revokeAccount('alice-at-service');
    skew += 60_000;
    // The refresh is refused: the gateway forgets the token and revokes the client's grant, so
    // the SDK's own refresh fails and it starts a new authorization (the browser plays it).
    await assert.rejects(account(aliceClient), UnauthorizedError);
    const code = alice.lastRun?.location.searchParams.get('code');
    assert.ok(code, 'the SDK went through authorization again');
    assert.equal(alice.lastRun?.upstreamShown, true, 'through the upstream consent');
    assert.equal(alice.lastRun?.consentShown, false, 'the gateway consent is remembered');
    await aliceClient.close();
    const transport = new StreamableHTTPClientTransport(new URL(`${origin}/notes`), {
      authProvider: alice,
    });
    await transport.finishAuth(code);
    aliceClient = new Client({ name: 'upstream-test', version: '0.0.0' });
    await aliceClient.connect(transport);
    assert.deepEqual(await account(aliceClient), { sub: 'alice-at-service', active: true });
    const tokens = alice.tokens();
    clientTokens.push(tokens?.access_token ?? '', tokens?.refresh_token ?? '');
  });

  it('an upstream 403 insufficient_scope: the client re-authorizes and the provider is asked for the scopes named', async () => {
    await assert.rejects(
      aliceClient.callTool({ name: 'write_note', arguments: {} }),
      UnauthorizedError,
    );
    assert.equal(provider.authorizations.at(-1)?.get('scope'), 'read write');
    const code = alice.lastRun?.location.searchParams.get('code');
    assert.ok(code);
    await aliceClient.close();
    const transport = new StreamableHTTPClientTransport(new URL(`${origin}/notes`), {
      authProvider: alice,
    });
    await transport.finishAuth(code);
    aliceClient = new Client({ name: 'upstream-test', version: '0.0.0' });
    await aliceClient.connect(transport);
    const written = await aliceClient.callTool({ name: 'write_note', arguments: {} });
    assert.equal(firstText(written), 'written');
  });

  it('a refusal at the provider ends in a clear page and an OAuth error to the client', async () => {
    const fresh = browser(CAROL, 'carol-at-service', 'deny');
    await assert.rejects(authorizeWithSdk(fresh, `${origin}/notes`), /no code/);
    const run = fresh.lastRun;
    assert.ok(run?.upstreamFailedPage, 'the gateway said what happened');
    assert.match(run.upstreamFailedPage.body, /did not give access/);
    assert.equal(run.location.searchParams.get('error'), 'access_denied');
    assert.match(run.location.searchParams.get('error_description') ?? '', /upstream/);
  });

  it('a callback carried to another browser is refused there and still works where it began', async () => {
    const registration = await fetch(`${origin}/.pomerium/mcp/register`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        client_name: 'Callback probe',
        redirect_uris: ['http://127.0.0.1:53700/cb'],
        token_endpoint_auth_method: 'none',
      }),
    }).then((r) => r.json() as Promise<{ client_id: string }>);
    // A browser that signs in as Carol (who holds no upstream token) and stops at the
    // upstream's callback.
    const jar = new CookieJar();
    const url = new URL(`${origin}/.pomerium/mcp/authorize`);
    url.search = new URLSearchParams({
      response_type: 'code',
      client_id: registration.client_id,
      redirect_uri: 'http://127.0.0.1:53700/cb',
      code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGjSstw-cM',
      code_challenge_method: 'S256',
      resource: `${origin}/notes`,
      state: 'probe',
    }).toString();
    const run = await authorizeInBrowser(url, {
      email: CAROL,
      password: PASSWORD,
      jar,
      upstream: { origin: 'http://never.invalid', account: 'unused' },
    });
    // It left for the upstream provider: that is where `authorizeInBrowser` stopped.
    assert.equal(run.location.origin, provider.issuer);
    const page = (await follow(jar, run.location)).at(-1);
    assert.ok(page);
    let hop = await send(jar, page.url, {
      form: { account: 'carol-at-service', decision: 'allow' },
    });
    let callback = new URL(hop.headers.get('location') ?? '', hop.url);
    while (callback.origin === provider.issuer) {
      hop = await send(jar, callback);
      callback = new URL(hop.headers.get('location') ?? '', hop.url);
    }
    assert.equal(callback.pathname, '/.pomerium/mcp/client/oauth/callback');

    const stranger = await send(new CookieJar(), callback);
    assert.equal(stranger.status, 400);
    assert.match(stranger.body, /another sign-in session/);
    const home = await send(jar, callback);
    assert.equal(home.status, 303, 'the browser that started it finishes it');
    const replay = await send(jar, callback);
    assert.equal(replay.status, 400, 'a state is used once');
    assert.match(replay.body, /unknown, used or expired/);
  });

  it('the older callback path keeps working', async () => {
    const res = await fetch(`${origin}/.pomerium/mcp/oauth/callback?state=nothing&code=x`);
    assert.equal(res.status, 400);
    assert.match(await res.text(), /unknown, used or expired/);
  });

  it('no table of the database holds any token value in the clear', async () => {
    const db = new Sqlite(join(dir, 'gateway.db'), { readonly: true });
    try {
      const tables = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as {
        name: string;
      }[];
      const dump = tables
        .map(({ name }) => JSON.stringify(db.prepare(`SELECT * FROM "${name}"`).all()))
        .join('\n');
      const sentRefresh = provider.tokenRequests.flatMap((r) => {
        const t = r.form.get('refresh_token');
        return t ? [t] : [];
      });
      const values = [...upstreamTokens(), ...sentRefresh, ...clientTokens].filter(Boolean);
      assert.ok(values.length > 10, `${values.length} token values checked`);
      for (const value of values) assert.equal(dump.includes(value), false, 'a token in the clear');
      assert.ok(tables.some((t) => t.name === 'upstream_tokens'));
      const rows = db.prepare('SELECT COUNT(*) AS n FROM upstream_tokens').get() as { n: number };
      assert.ok(rows.n >= 2, 'Alice’s and Bob’s tokens are stored (sealed)');
    } finally {
      db.close();
    }
    assert.equal(
      [...upstreamTokens()].some((t) => logs.text().includes(t)),
      false,
      'no upstream token in the logs',
    );
  });
});
