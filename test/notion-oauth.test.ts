/**
 * Issue 10: the Notion server behind the gateway of `npm start`, with the Notion API fixture
 * playing Notion's OAuth (authorize with `owner=user`, token with HTTP Basic, rotating refresh
 * tokens, 5-second access tokens). The MCP SDK's own client authorizes /notion through
 * sign-in, consent and Notion's consent, then calls `search` and `fetch`: the fixture sees the
 * token it issued on every API call, never the client's own. The fixture and the gateway's
 * upstream vault share one injected clock, so tokens come due without waiting.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { startTestDevSystem, type TestDevSystem } from './support/dev-system.js';
import { CookieJar, send } from './support/cookie-jar.js';
import { freePort } from './support/gateway.js';
import { authorizeWithSdk, BrowserOAuthProvider } from './support/oauth-client.js';
import { fromRoot } from './support/paths.js';
import {
  NOTION_VERSION,
  startNotionFixture,
  type NotionFixture,
} from './fixtures/notion/server.js';
import { IDS } from './fixtures/notion/workspace.js';

/**
 * The user name and password of an HTTP Basic header, as sent: Notion's examples Base64 the
 * raw `client_id:client_secret` (a UUID and `secret_…`). RFC 6749 §2.3.1's form-encoding leaves
 * those characters alone; an encoder that turned `-` into `%2D` would fail here (and at Notion).
 */
function basicCredentials(header: string | undefined): string[] {
  const match = /^Basic (.+)$/.exec(header ?? '');
  assert.ok(match, `not HTTP Basic: ${header}`);
  const decoded = Buffer.from(match[1]!, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  return [decoded.slice(0, colon), decoded.slice(colon + 1)];
}

const EMAIL = 'nora@example.com';
const PASSWORD = 'notion oauth test password';

describe('/notion through npm start with Notion OAuth (the API fixture as Notion)', () => {
  let fixture: NotionFixture;
  let dev: TestDevSystem;
  let origin: string;
  let callback: string;
  let skew = 0;
  const now = () => Date.now() + skew;
  const clientTokens: string[] = [];
  /** Requests the test itself sent to the fixture's API (by index in `fixture.requests`). */
  const probes = new Set<number>();

  before(async () => {
    const port = await freePort();
    origin = `http://localhost:${port}`;
    callback = `${origin}/.pomerium/mcp/client/oauth/callback`;
    fixture = await startNotionFixture({
      now,
      oauth: { redirectUris: [callback], accessTokenTtl: 5 },
    });
    dev = await startTestDevSystem({
      email: EMAIL,
      password: PASSWORD,
      port,
      dirPrefix: 'portcullis-notion-oauth',
      upstream: { now },
      env: {
        NOTION_CLIENT_ID: fixture.oauth.clientId,
        NOTION_CLIENT_SECRET: fixture.oauth.clientSecret,
        NOTION_AUTH_URL: `${fixture.url}/v1/oauth/authorize`,
        NOTION_TOKEN_URL: `${fixture.url}/v1/oauth/token`,
        NOTION_API_BASE_URL: fixture.url,
      },
    });
  });
  after(async () => {
    await dev?.close();
    await fixture?.close();
  });

  const browser = (decision: 'allow' | 'deny' = 'allow') =>
    new BrowserOAuthProvider({
      email: EMAIL,
      password: PASSWORD,
      jar: new CookieJar(),
      upstream: { origin: fixture.url, account: 'alice', decision },
    });

  /** API calls (not OAuth) from the gateway's side that the fixture received since `from`. */
  const apiCalls = (from = 0) =>
    fixture.requests.filter(
      (r, i) => i >= from && !probes.has(i) && !r.path.startsWith('/v1/oauth/'),
    );

  async function search(client: Client, query: string) {
    const result = await client.callTool({ name: 'search', arguments: { query } });
    assert.notEqual(result.isError, true, JSON.stringify(result.content));
    return (result.structuredContent as { results: { id: string; title: string }[] }).results;
  }

  it('adds /notion when NOTION_CLIENT_ID and NOTION_CLIENT_SECRET are set, and names the callback to register', async () => {
    assert.ok(dev.system.mcpUrls.includes(`${origin}/notion`), dev.system.mcpUrls.join(' '));
    assert.equal(dev.system.notionCallbackUrl, callback);
    const res = await fetch(`${origin}/notion`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json' },
      body: '{}',
    });
    assert.equal(res.status, 401, 'an MCP route behind OAuth');
    assert.match(res.headers.get('www-authenticate') ?? '', /resource_metadata=.*\/notion"/);
  });

  it('a refusal at Notion’s consent ends in access_denied for the client', async () => {
    const oauth = browser('deny');
    await assert.rejects(authorizeWithSdk(oauth, `${origin}/notion`), /no code/);
    assert.equal(oauth.lastRun?.consentShown, true, 'consented at the gateway first');
    assert.equal(oauth.lastRun?.upstreamShown, true, 'then sent to Notion');
    assert.ok(oauth.lastRun?.upstreamFailedPage, 'the gateway said what happened');
    assert.equal(oauth.lastRun?.location.searchParams.get('error'), 'access_denied');
    assert.equal(fixture.oauth.tokenRequests.length, 0, 'nothing to redeem');
  });

  let alice: BrowserOAuthProvider;
  let client: Client;

  it('authorizes through sign-in, consent and Notion’s consent; search and fetch use the Notion token', async () => {
    alice = browser();
    const tokens = await authorizeWithSdk(alice, `${origin}/notion`);
    clientTokens.push(tokens.access_token, tokens.refresh_token ?? '');
    assert.equal(alice.lastRun?.signedIn, true);
    // An identical registration is the same client, whose consent the refused run remembered.
    assert.equal(alice.lastRun?.consentShown, false);
    assert.equal(alice.lastRun?.upstreamShown, true, 'through Notion before the client’s code');

    // The authorization request, as Notion documents it.
    const asked = fixture.oauth.authorizations.at(-1);
    assert.ok(asked);
    assert.equal(asked.get('client_id'), fixture.oauth.clientId);
    assert.equal(asked.get('redirect_uri'), callback);
    assert.equal(asked.get('response_type'), 'code');
    assert.equal(asked.get('owner'), 'user');
    assert.ok(asked.get('state'));
    // The code exchange: HTTP Basic client_id:client_secret, the same redirect_uri.
    assert.equal(fixture.oauth.tokenRequests.length, 1);
    const exchange = fixture.oauth.tokenRequests[0]!;
    assert.equal(exchange.status, 200);
    assert.deepEqual(basicCredentials(exchange.authorization), [
      fixture.oauth.clientId,
      fixture.oauth.clientSecret,
    ]);
    assert.equal(exchange.params.grant_type, 'authorization_code');
    assert.equal(exchange.params.redirect_uri, callback);
    assert.equal(exchange.params.client_secret, undefined, 'the secret only in the header');

    const seen = fixture.requests.length;
    client = new Client({ name: 'notion-oauth-test', version: '0.0.0' });
    await client.connect(
      new StreamableHTTPClientTransport(new URL(`${origin}/notion`), { authProvider: alice }),
    );
    const found = await search(client, 'onboarding');
    assert.deepEqual(
      found.map((r) => r.id),
      [IDS.onboardingGuide],
    );
    const fetched = await client.callTool({ name: 'fetch', arguments: { id: found[0]!.id } });
    const doc = fetched.structuredContent as { id: string; title: string; text: string };
    assert.equal(doc.title, 'Onboarding Guide');
    const golden = await readFile(
      fromRoot('test', 'fixtures', 'notion', 'golden', 'onboarding-guide.md'),
      'utf8',
    );
    assert.equal(doc.text, golden.trimEnd());

    const calls = apiCalls(seen);
    assert.ok(calls.some((c) => c.path === '/v1/search'));
    assert.ok(calls.some((c) => c.path.startsWith('/v1/blocks/')));
    const issued = fixture.oauth.issued[0]!.accessToken;
    for (const call of calls) assert.equal(call.token, issued, `${call.path} carried it`);
    assert.notEqual(issued, tokens.access_token);
  });

  it('refreshes ahead of expiry with HTTP Basic; the refresh token rotates and the old one is refused', async () => {
    const first = fixture.oauth.issued[0]!;
    skew += 4_000; // 1 s of the 5 s token left: due
    const seen = fixture.requests.length;
    assert.ok((await search(client, 'launch')).length > 0);
    assert.equal(fixture.oauth.refreshes, 1);
    const refresh = fixture.oauth.tokenRequests.at(-1)!;
    assert.equal(refresh.params.grant_type, 'refresh_token');
    assert.equal(refresh.params.refresh_token, first.refreshToken);
    assert.deepEqual(basicCredentials(refresh.authorization), [
      fixture.oauth.clientId,
      fixture.oauth.clientSecret,
    ]);
    const second = fixture.oauth.issued[1]!;
    assert.notEqual(second.refreshToken, first.refreshToken, 'rotated');
    for (const call of apiCalls(seen)) assert.equal(call.token, second.accessToken);

    // Notion refuses a refresh token once it was used.
    const replay = await tokenRequest({
      grant_type: 'refresh_token',
      refresh_token: first.refreshToken,
    });
    assert.equal(replay.status, 400);
    assert.equal(replay.body.error, 'invalid_grant');
    assert.ok((await search(client, 'launch')).length > 0, 'still connected');
    assert.equal(fixture.oauth.refreshes, 1, 'a fresh token is not refreshed again');
  });

  it('after expiry the fixture refuses the old token, and the gateway refreshes before the call', async () => {
    const second = fixture.oauth.issued[1]!;
    skew += 60_000;
    probes.add(fixture.requests.length);
    const direct = await fetch(`${fixture.url}/v1/search`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${second.accessToken}`,
        'notion-version': NOTION_VERSION,
        'content-type': 'application/json',
      },
      body: '{}',
    });
    assert.equal(direct.status, 401, 'an expired access token');
    const seen = fixture.requests.length;
    assert.deepEqual(
      (await search(client, 'onboarding')).map((r) => r.id),
      [IDS.onboardingGuide],
    );
    assert.equal(fixture.oauth.refreshes, 2);
    assert.equal(fixture.oauth.refusedRefreshes, 1, 'only the test’s own replay was refused');
    const third = fixture.oauth.issued[2]!;
    for (const call of apiCalls(seen)) assert.equal(call.token, third.accessToken);
  });

  it('the client’s own tokens never reached Notion; every API call carried a token Notion issued', () => {
    const values = clientTokens.filter(Boolean);
    assert.equal(values.length, 2);
    for (const r of fixture.requests) {
      const carried = `${r.authorization ?? ''}\n${r.query}\n${r.body}`;
      for (const v of values) assert.equal(carried.includes(v), false, `${r.path} carried it`);
    }
    const issued = new Set(fixture.oauth.issued.map((i) => i.accessToken));
    const fromGateway = apiCalls();
    assert.ok(fromGateway.length > 5, `${fromGateway.length} API calls`);
    for (const call of fromGateway) assert.ok(issued.has(call.token ?? ''), call.path);
  });

  async function tokenRequest(
    body: Record<string, string>,
    auth = `${fixture.oauth.clientId}:${fixture.oauth.clientSecret}`,
    type: 'json' | 'form' = 'json',
  ) {
    const res = await fetch(`${fixture.url}/v1/oauth/token`, {
      method: 'POST',
      headers: {
        authorization: `Basic ${Buffer.from(auth).toString('base64')}`,
        'content-type': type === 'json' ? 'application/json' : 'application/x-www-form-urlencoded',
      },
      body: type === 'json' ? JSON.stringify(body) : new URLSearchParams(body).toString(),
    });
    return {
      status: res.status,
      headers: res.headers,
      body: (await res.json()) as Record<string, unknown>,
    };
  }

  describe('the fixture plays Notion’s OAuth as Notion documents it', () => {
    /** Authorize and approve at the fixture directly; returns the code. */
    async function code(params: Record<string, string> = {}) {
      const url = new URL(`${fixture.url}/v1/oauth/authorize`);
      url.search = new URLSearchParams({
        client_id: fixture.oauth.clientId,
        redirect_uri: callback,
        response_type: 'code',
        owner: 'user',
        state: 'probe-state',
        ...params,
      }).toString();
      const jar = new CookieJar();
      const page = await send(jar, url);
      assert.equal(page.status, 200, page.body);
      assert.match(page.body, /<form method="post">/);
      const hop = await send(jar, url, { form: { account: 'bob', decision: 'allow' } });
      assert.equal(hop.status, 302);
      const back = new URL(hop.headers.get('location') ?? '');
      assert.equal(`${back.origin}${back.pathname}`, callback);
      assert.equal(back.searchParams.get('state'), 'probe-state');
      return back.searchParams.get('code') ?? '';
    }

    it('redeems a code with a JSON body (as Notion’s own client sends) and once only', async () => {
      const c = await code();
      const grant = { grant_type: 'authorization_code', code: c, redirect_uri: callback };
      const ok = await tokenRequest(grant);
      assert.equal(ok.status, 200);
      assert.equal(ok.body.token_type, 'bearer');
      assert.equal(ok.body.expires_in, 5);
      for (const field of [
        'access_token',
        'refresh_token',
        'bot_id',
        'workspace_id',
        'workspace_name',
      ]) {
        assert.equal(typeof ok.body[field], 'string', field);
      }
      assert.equal((ok.body.owner as { type: string }).type, 'user');
      // Bob's token sees Bob's share only.
      const res = await fetch(`${fixture.url}/v1/search`, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${String(ok.body.access_token)}`,
          'notion-version': NOTION_VERSION,
          'content-type': 'application/json',
        },
        body: JSON.stringify({ query: 'onboarding' }),
      });
      assert.equal(res.status, 200);
      assert.deepEqual(((await res.json()) as { results: unknown[] }).results, []);
      const again = await tokenRequest(grant);
      assert.equal(again.status, 400);
      assert.equal(again.body.error, 'invalid_grant');
    });

    it('refuses wrong client credentials with 401 invalid_client, and a code for another redirect_uri', async () => {
      const c = await code();
      const grant = { grant_type: 'authorization_code', code: c, redirect_uri: callback };
      const wrong = await tokenRequest(grant, `${fixture.oauth.clientId}:not-the-secret`, 'form');
      assert.equal(wrong.status, 401);
      assert.equal(wrong.body.error, 'invalid_client');
      assert.match(wrong.headers.get('www-authenticate') ?? '', /^Basic/);
      const other = await tokenRequest({ ...grant, redirect_uri: `${origin}/elsewhere` });
      assert.equal(other.status, 400);
      assert.equal(other.body.error, 'invalid_grant');
      const unknownGrant = await tokenRequest({ grant_type: 'password' });
      assert.equal(unknownGrant.body.error, 'unsupported_grant_type');
    });

    it('authorize: an unregistered redirect_uri is a page, never a redirect; no owner=user is an error redirect', async () => {
      const base = {
        client_id: fixture.oauth.clientId,
        response_type: 'code',
        owner: 'user',
        state: 's',
      };
      const evil = new URL(`${fixture.url}/v1/oauth/authorize`);
      evil.search = new URLSearchParams({
        ...base,
        redirect_uri: 'https://evil.test/cb',
      }).toString();
      const page = await send(new CookieJar(), evil);
      assert.equal(page.status, 400);
      assert.equal(page.headers.get('location'), null);
      const noOwner = new URL(`${fixture.url}/v1/oauth/authorize`);
      noOwner.search = new URLSearchParams({
        ...base,
        owner: 'workspace',
        redirect_uri: callback,
      }).toString();
      const hop = await send(new CookieJar(), noOwner);
      assert.equal(hop.status, 302);
      const back = new URL(hop.headers.get('location') ?? '');
      assert.equal(back.searchParams.get('error'), 'invalid_request');
      assert.equal(back.searchParams.get('state'), 's');
    });
  });
});
