/**
 * Refusals of the MCP authorization server, one per case, each proving that nothing usable
 * was handed out.
 */
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { send, type Hop } from './support/cookie-jar.js';
import { authorizeInBrowser, consentCsrf } from './support/oauth-browser.js';
import {
  authorizationUrl,
  authorizeCode,
  exchange,
  mcpWithToken,
  OAUTH_EMAIL,
  OAUTH_PASSWORD,
  pkce,
  publicClient,
  register,
  startOAuthGateway,
  tokenRequest,
  type OAuthTestGateway,
} from './support/oauth-flow.js';

describe('MCP authorization server refusals', () => {
  let gw: OAuthTestGateway;
  let clientId: string;
  const redirect = 'http://127.0.0.1:47777/cb';
  before(async () => {
    gw = await startOAuthGateway({
      lifetimes: { accessToken: 1 },
      rateLimits: { register: { max: 30, windowMs: 60_000 } },
    });
    clientId = (await register(gw.origin, publicClient(redirect))).clientId;
  });
  after(() => gw?.close());

  /** Starts an authorization in the signed-in browser; returns where it ended. */
  async function tryAuthorize(
    params: Record<string, string | undefined>,
  ): Promise<{ first: Hop; location?: URL }> {
    const url = authorizationUrl(gw.origin, {
      client_id: clientId,
      redirect_uri: redirect,
      resource: gw.resource('/sqlite'),
      ...params,
    });
    const first = await send(gw.jar, url);
    const to = first.headers.get('location');
    return { first, ...(to ? { location: new URL(to, url) } : {}) };
  }

  it('a client registered at the MCP server cannot use the built-in identity provider', async () => {
    const { challenge } = pkce();
    const url = authorizationUrl(
      gw.origin,
      {
        client_id: clientId,
        redirect_uri: redirect,
        response_type: 'code',
        scope: 'openid email',
        code_challenge: challenge,
        code_challenge_method: 'S256',
        state: 's',
      },
      '/.pomerium/idp/auth',
    );
    const res = await send(gw.jar, url);
    // An unknown client is an error page on the provider itself, never a redirect.
    assert.equal(res.headers.get('location'), null);
    assert.equal(res.status, 400);
    assert.match(res.body, /invalid_client|client is invalid/i);
  });

  it('PKCE missing is refused', async () => {
    const { location } = await tryAuthorize({
      code_challenge: undefined,
      code_challenge_method: undefined,
    });
    assert.equal(location?.searchParams.get('error'), 'invalid_request');
    assert.match(location?.searchParams.get('error_description') ?? '', /PKCE/);
  });

  it('PKCE plain is refused', async () => {
    const { location } = await tryAuthorize({
      code_challenge: 'x'.repeat(43),
      code_challenge_method: 'plain',
    });
    assert.equal(location?.searchParams.get('error'), 'invalid_request');
  });

  it('a wrong code_verifier is refused', async () => {
    const a = await authorizeCode(gw, { clientId, redirectUri: redirect });
    const t = await exchange(gw, { ...a, verifier: pkce().verifier });
    assert.equal(t.status, 400);
    assert.equal(t.body.error, 'invalid_grant');
  });

  it('a replayed code is refused and the tokens it issued are revoked', async () => {
    const a = await authorizeCode(gw, { clientId, redirectUri: redirect });
    const first = await exchange(gw, a);
    assert.equal(first.status, 200);
    const replay = await exchange(gw, a);
    assert.equal(replay.body.error, 'invalid_grant');
    assert.equal((await mcpWithToken(gw, '/sqlite', String(first.body.access_token))).status, 401);
    const refresh = await tokenRequest(gw.origin, {
      grant_type: 'refresh_token',
      refresh_token: String(first.body.refresh_token),
      client_id: clientId,
    });
    assert.equal(refresh.body.error, 'invalid_grant');
  });

  it('a redirect URI that was not registered renders a page, never redirects', async () => {
    for (const uri of [
      'http://127.0.0.1:47777/other',
      'https://evil.example/cb',
      'javascript:alert(1)',
    ]) {
      const { first } = await tryAuthorize({ redirect_uri: uri, code_challenge: pkce().challenge });
      assert.equal(first.status, 400, uri);
      assert.equal(first.headers.get('location'), null, uri);
      assert.match(first.headers.get('content-type') ?? '', /text\/html/);
      assert.match(first.headers.get('content-security-policy') ?? '', /frame-ancestors 'none'/);
    }
  });

  it('an unknown client renders a page, never redirects', async () => {
    const { first } = await tryAuthorize({ client_id: 'nope', code_challenge: pkce().challenge });
    assert.equal(first.status, 400);
    assert.equal(first.headers.get('location'), null);
  });

  it('an unknown resource is refused at authorization (invalid_target)', async () => {
    const { location } = await tryAuthorize({
      resource: 'https://elsewhere.example/mcp',
      code_challenge: pkce().challenge,
    });
    assert.equal(location?.searchParams.get('error'), 'invalid_target');
  });

  it('a resource other than the authorized one is refused at the token endpoint', async () => {
    const a = await authorizeCode(gw, { clientId, redirectUri: redirect });
    const t = await exchange(gw, a, gw.resource('/whoami'));
    assert.equal(t.status, 400);
    assert.equal(t.body.error, 'invalid_target');
  });

  it('expired, tampered and unknown tokens get 401 invalid_token', async () => {
    const a = await authorizeCode(gw, { clientId, redirectUri: redirect });
    const token = String((await exchange(gw, a)).body.access_token);
    const tampered = token.slice(0, -1) + (token.endsWith('A') ? 'B' : 'A');
    for (const bad of [tampered, 'x'.repeat(43), 'not a token']) {
      const res = await mcpWithToken(gw, '/sqlite', bad);
      assert.equal(res.status, 401, bad);
      assert.match(res.headers.get('www-authenticate') ?? '', /error="invalid_token"/);
    }
    await sleep(1_100);
    const expired = await mcpWithToken(gw, '/sqlite', token);
    assert.equal(expired.status, 401);
    assert.match(expired.headers.get('www-authenticate') ?? '', /error="invalid_token"/);
  });

  it('the consent form refuses a wrong CSRF token, and is unframeable and uncached', async () => {
    const other = (
      await register(gw.origin, publicClient('http://127.0.0.1:48888/cb', { client_name: 'CSRF' }))
    ).clientId;
    const url = authorizationUrl(gw.origin, {
      client_id: other,
      redirect_uri: 'http://127.0.0.1:48888/cb',
      code_challenge: pkce().challenge,
      resource: gw.resource('/sqlite'),
    });
    // Sign in first (remembers nothing for this client), then stop at the consent page.
    await authorizeInBrowser(
      authorizationUrl(gw.origin, {
        client_id: clientId,
        redirect_uri: redirect,
        code_challenge: pkce().challenge,
        resource: gw.resource('/sqlite'),
      }),
      { email: OAUTH_EMAIL, password: OAUTH_PASSWORD, jar: gw.jar },
    );
    let hop = await send(gw.jar, url);
    while (hop.status === 302 || hop.status === 303)
      hop = await send(gw.jar, new URL(hop.headers.get('location') ?? '', hop.url));
    assert.match(hop.url.pathname, /^\/\.pomerium\/mcp\/interaction\//);
    assert.match(hop.headers.get('content-security-policy') ?? '', /frame-ancestors 'none'/);
    assert.equal(hop.headers.get('x-frame-options'), 'DENY');
    assert.equal(hop.headers.get('cache-control'), 'no-store');
    const csrf = consentCsrf(hop.body);
    const forged = await send(gw.jar, hop.url, { form: { csrf: `${csrf}x`, decision: 'allow' } });
    assert.equal(forged.status, 403);
    assert.equal(forged.headers.get('location'), null);
    const noSession = await fetch(hop.url, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ csrf, decision: 'allow' }),
      redirect: 'manual',
    });
    assert.notEqual(noSession.status, 303, 'no interaction cookie, no session: no decision');
    assert.equal(noSession.headers.get('location'), null);
  });

  it('registrations with javascript:, data: or non-loopback http redirect URIs are refused', async () => {
    for (const uri of [
      'javascript:alert(1)',
      'data:text/html,hi',
      'http://evil.example/cb',
      'https://x.example/cb#f',
    ]) {
      const r = await register(gw.origin, publicClient(uri));
      assert.equal(r.status, 400, uri);
      assert.equal(r.body.error, 'invalid_redirect_uri', uri);
      assert.equal(r.body.client_id, undefined);
    }
  });

  it('oversize and malformed registration bodies are refused', async () => {
    const big = await fetch(`${gw.origin}/.pomerium/mcp/register`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(publicClient(redirect, { client_name: 'x'.repeat(20_000) })),
    });
    assert.equal(big.status, 413);
    for (const body of ['{', '[]', 'null', '"x"']) {
      const res = await fetch(`${gw.origin}/.pomerium/mcp/register`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body,
      });
      assert.equal(res.status, 400, body);
      assert.equal(((await res.json()) as { error: string }).error, 'invalid_client_metadata');
    }
    const form = await fetch(`${gw.origin}/.pomerium/mcp/register`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'client_name=x',
    });
    assert.equal(form.status, 400);
  });
});

describe('registration rate limit and the registration switch', () => {
  it('/register answers 429 with an OAuth error body past the limit', async () => {
    const gw = await startOAuthGateway({ rateLimits: { register: { max: 3, windowMs: 60_000 } } });
    try {
      for (let i = 0; i < 3; i++) {
        assert.equal(
          (await register(gw.origin, publicClient(`http://127.0.0.1:4000${i}/cb`))).status,
          201,
        );
      }
      const res = await fetch(`${gw.origin}/.pomerium/mcp/register`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(publicClient('http://127.0.0.1:40009/cb')),
      });
      assert.equal(res.status, 429);
      assert.ok(Number(res.headers.get('retry-after')) >= 1);
      assert.equal(((await res.json()) as { error: string }).error, 'temporarily_unavailable');
    } finally {
      await gw.close();
    }
  });

  it('runtime_flags.mcp_dynamic_client_registration: false turns registration off', async () => {
    const gw = await startOAuthGateway(
      {},
      'runtime_flags: { mcp_dynamic_client_registration: false }',
    );
    try {
      const r = await register(gw.origin, publicClient());
      assert.equal(r.status, 404);
      const as = (await (
        await fetch(`${gw.origin}/.well-known/oauth-authorization-server`)
      ).json()) as Record<string, unknown>;
      assert.equal(as.registration_endpoint, undefined);
    } finally {
      await gw.close();
    }
  });
});
