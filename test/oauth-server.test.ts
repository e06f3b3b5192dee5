/**
 * The authorization server for MCP clients through a real gateway: discovery, the 401
 * challenge, tokens bound to one MCP resource, refresh rotation, revocation, consent memory,
 * confidential clients, and the quirks of real clients (Claude.ai, Cursor, VS Code).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { sha256Hex } from '../src/core/crypto.js';
import { send } from './support/cookie-jar.js';
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
import { authorizeInBrowser } from './support/oauth-browser.js';

describe('MCP authorization server', () => {
  let gw: OAuthTestGateway;
  before(async () => {
    gw = await startOAuthGateway();
  });
  after(() => gw?.close());

  it('serves RFC 9728 and RFC 8414 metadata for the MCP host', async () => {
    const prm = await fetch(`${gw.origin}/.well-known/oauth-protected-resource/whoami`);
    assert.equal(prm.status, 200);
    assert.equal(prm.headers.get('access-control-allow-origin'), '*');
    assert.deepEqual(await prm.json(), {
      resource: gw.resource('/whoami'),
      authorization_servers: [gw.origin],
      resource_name: 'Who',
      bearer_methods_supported: ['header'],
      scopes_supported: ['mcp'],
    });
    for (const path of [
      '/.well-known/oauth-authorization-server',
      '/.well-known/openid-configuration',
    ]) {
      const as = (await (await fetch(`${gw.origin}${path}`)).json()) as Record<string, unknown>;
      assert.equal(as.issuer, gw.origin, path);
      assert.equal(as.authorization_endpoint, `${gw.origin}/.pomerium/mcp/authorize`);
      assert.equal(as.token_endpoint, `${gw.origin}/.pomerium/mcp/token`);
      assert.equal(as.registration_endpoint, `${gw.origin}/.pomerium/mcp/register`);
      assert.equal(as.revocation_endpoint, `${gw.origin}/.pomerium/mcp/revoke`);
      assert.deepEqual(as.code_challenge_methods_supported, ['S256']);
      assert.equal(as.authorization_response_iss_parameter_supported, true);
    }
  });

  it('answers an MCP request without credentials with Pomerium’s 401 and CORS', async () => {
    const res = await fetch(`${gw.origin}/sqlite`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', origin: 'http://localhost:6274' },
      body: '{}',
    });
    assert.equal(res.status, 401);
    assert.equal(
      res.headers.get('www-authenticate'),
      `Bearer resource_metadata="${gw.origin}/.well-known/oauth-protected-resource/sqlite", scope="mcp"`,
    );
    assert.equal(res.headers.get('access-control-allow-origin'), 'http://localhost:6274');
    assert.match(
      res.headers.get('access-control-expose-headers') ?? '',
      /WWW-Authenticate, Mcp-Session-Id/,
    );
    const preflight = await fetch(`${gw.origin}/sqlite`, {
      method: 'OPTIONS',
      headers: {
        origin: 'http://localhost:6274',
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'authorization, content-type',
      },
    });
    assert.equal(preflight.status, 204);
    assert.equal(
      preflight.headers.get('access-control-allow-headers'),
      'authorization, content-type',
    );
  });

  it('a token works on its resource only, and never reaches the upstream', async () => {
    const a = await authorizeCode(gw);
    assert.equal(a.run.location.searchParams.get('iss'), gw.origin, 'RFC 9207');
    const t = await exchange(gw, a);
    assert.equal(t.status, 200, JSON.stringify(t.body));
    const token = String(t.body.access_token);
    gw.upstream.reset();
    const ok = await mcpWithToken(gw, '/sqlite', token);
    assert.equal(ok.status, 200);
    const seen = gw.upstream.requests.at(-1);
    assert.ok(seen);
    assert.equal(seen.headers.authorization, undefined, 'the external token is not forwarded');
    assert.equal(JSON.stringify(seen.headers).includes(token), false);
    assert.ok(seen.headers['x-pomerium-jwt-assertion'], 'the identity assertion is');
    const payload = JSON.parse(
      Buffer.from(
        String(seen.headers['x-pomerium-jwt-assertion']).split('.')[1] ?? '',
        'base64url',
      ).toString(),
    ) as { email: string };
    assert.equal(payload.email, OAUTH_EMAIL);

    const other = await mcpWithToken(gw, '/whoami', token);
    assert.equal(other.status, 401, 'a token for /sqlite is refused on /whoami');
    assert.equal(other.statusText, 'Unauthorized');
    assert.match(other.headers.get('www-authenticate') ?? '', /error="invalid_token"/);
    assert.match(other.headers.get('www-authenticate') ?? '', /oauth-protected-resource\/whoami/);
  });

  it('stores no token, code or secret in the clear', async () => {
    const a = await authorizeCode(gw);
    const t = await exchange(gw, a);
    const access = String(t.body.access_token);
    const refresh = String(t.body.refresh_token);
    for (const [model, id] of [
      ['AccessToken', access],
      ['RefreshToken', refresh],
    ] as const) {
      const rec = await gw.gateway.storage.oauth.find(model, id, Date.now());
      assert.ok(rec, model);
      const text = JSON.stringify(rec.payload);
      assert.equal(text.includes(access) || text.includes(refresh), false, model);
    }
  });

  it('refresh tokens rotate; a replayed one revokes the whole grant', async () => {
    const a = await authorizeCode(gw);
    const first = await exchange(gw, a);
    const rt1 = String(first.body.refresh_token);
    const refreshed = await tokenRequest(gw.origin, {
      grant_type: 'refresh_token',
      refresh_token: rt1,
      client_id: a.clientId,
    });
    assert.equal(refreshed.status, 200, JSON.stringify(refreshed.body));
    assert.notEqual(refreshed.body.refresh_token, rt1, 'rotated');
    const at2 = String(refreshed.body.access_token);
    assert.equal((await mcpWithToken(gw, '/sqlite', at2)).status, 200);
    const replay = await tokenRequest(gw.origin, {
      grant_type: 'refresh_token',
      refresh_token: rt1,
      client_id: a.clientId,
    });
    assert.equal(replay.status, 400);
    assert.equal(replay.body.error, 'invalid_grant');
    assert.equal((await mcpWithToken(gw, '/sqlite', at2)).status, 401, 'the family is revoked');
    const rt2 = await tokenRequest(gw.origin, {
      grant_type: 'refresh_token',
      refresh_token: String(refreshed.body.refresh_token),
      client_id: a.clientId,
    });
    assert.equal(rt2.body.error, 'invalid_grant');
  });

  it('revocation (RFC 7009) is honoured on the next request', async () => {
    const a = await authorizeCode(gw);
    const t = await exchange(gw, a);
    const token = String(t.body.access_token);
    assert.equal((await mcpWithToken(gw, '/sqlite', token)).status, 200);
    const revoke = await fetch(`${gw.origin}/.pomerium/mcp/revoke`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token, token_type_hint: 'access_token', client_id: a.clientId }),
    });
    assert.equal(revoke.status, 200);
    assert.equal((await mcpWithToken(gw, '/sqlite', token)).status, 401);
  });

  it('consent is remembered per client and redirect URI; a new redirect URI asks again', async () => {
    const redirect = 'http://127.0.0.1:45555/cb';
    const first = await authorizeCode(gw, {
      redirectUri: redirect,
      resource: gw.resource('/whoami'),
    });
    assert.equal(first.run.consentShown, true);
    const again = await authorizeCode(gw, {
      redirectUri: redirect,
      resource: gw.resource('/whoami'),
    });
    assert.equal(again.run.consentShown, false, 'the same client and redirect URI');
    assert.equal(
      again.clientId,
      first.clientId,
      'an identical public registration is the same client',
    );
    const other = await authorizeCode(gw, {
      redirectUri: 'http://127.0.0.1:45556/cb',
      resource: gw.resource('/whoami'),
    });
    assert.equal(other.run.consentShown, true);
  });

  it('the consent page names client, redirect URI, server and account; Deny returns access_denied', async () => {
    const redirect = 'http://127.0.0.1:46666/cb';
    const { clientId } = await register(
      gw.origin,
      publicClient(redirect, { client_name: 'Deny Me' }),
    );
    const { challenge } = pkce();
    const url = authorizationUrl(gw.origin, {
      client_id: clientId,
      redirect_uri: redirect,
      code_challenge: challenge,
      resource: gw.resource('/sqlite'),
    });
    const run = await authorizeInBrowser(url, {
      email: OAUTH_EMAIL,
      password: OAUTH_PASSWORD,
      jar: gw.jar,
      decision: 'deny',
    });
    const page = run.consentPage;
    assert.ok(page);
    for (const text of [
      'Deny Me',
      '127.0.0.1:46666',
      redirect,
      'DB',
      gw.resource('/sqlite'),
      OAUTH_EMAIL,
    ]) {
      assert.ok(page.body.includes(text), `consent page names ${text}`);
    }
    assert.equal(run.location.searchParams.get('error'), 'access_denied');
    assert.equal(run.location.searchParams.get('code'), null);
  });

  it('confidential clients: client_secret_basic verified, the secret stored hashed', async () => {
    const reg = await register(gw.origin, {
      ...publicClient('https://app.example/cb'),
      token_endpoint_auth_method: 'client_secret_basic',
    });
    assert.equal(reg.status, 201);
    const secret = String(reg.body.client_secret);
    assert.ok(secret.length >= 40);
    const stored = await gw.gateway.storage.oauthClients.get(reg.clientId);
    assert.equal(stored?.metadata.client_secret, `sha256$${sha256Hex(secret)}`);
    const again = await register(gw.origin, {
      ...publicClient('https://app.example/cb'),
      token_endpoint_auth_method: 'client_secret_basic',
    });
    assert.notEqual(again.clientId, reg.clientId, 'confidential registrations are never shared');

    const a = await authorizeCode(gw, {
      clientId: reg.clientId,
      redirectUri: 'https://app.example/cb',
    });
    const params = {
      grant_type: 'authorization_code',
      code: a.code,
      code_verifier: a.verifier,
      redirect_uri: a.redirectUri,
      resource: gw.resource('/sqlite'),
    };
    const wrong = await tokenRequest(gw.origin, params, { basic: [reg.clientId, `${secret}x`] });
    assert.equal(wrong.status, 401);
    assert.equal(wrong.body.error, 'invalid_client');
    const right = await tokenRequest(gw.origin, params, { basic: [reg.clientId, secret] });
    assert.equal(right.status, 200, JSON.stringify(right.body));
  });
});

describe('real clients’ quirks', () => {
  let gw: OAuthTestGateway;
  before(async () => {
    gw = await startOAuthGateway();
  });
  after(() => gw?.close());

  it('Claude.ai: /register, /authorize, /token on the origin, re-registering every time', async () => {
    const metadata = publicClient('https://claude.ai/api/mcp/auth_callback', {
      client_name: 'Claude',
    });
    const first = await register(gw.origin, metadata, '/register');
    const second = await register(gw.origin, metadata, '/register');
    assert.equal(first.status, 201);
    assert.equal(second.status, 201);
    assert.equal(second.clientId, first.clientId, 'no new client for an identical registration');
    const fp = await gw.gateway.storage.oauthClients.get(first.clientId);
    assert.ok(fp);
    assert.equal(
      (await gw.gateway.storage.oauthClients.findByFingerprint(fp.fingerprint))?.clientId,
      first.clientId,
    );
    const a = await authorizeCode(gw, {
      clientId: second.clientId,
      redirectUri: 'https://claude.ai/api/mcp/auth_callback',
      authorizePath: '/authorize',
    });
    const t = await exchange(gw, a, gw.resource('/sqlite'), '/token');
    assert.equal(t.status, 200, JSON.stringify(t.body));
    assert.equal((await mcpWithToken(gw, '/sqlite', String(t.body.access_token))).status, 200);
  });

  it('Cursor: a private-use scheme redirect gets the code in its Location', async () => {
    const redirect = 'cursor://anysphere.cursor-mcp/oauth/callback';
    const { clientId, status } = await register(
      gw.origin,
      publicClient(redirect, { client_name: 'Cursor' }),
    );
    assert.equal(status, 201);
    const a = await authorizeCode(gw, { clientId, redirectUri: redirect });
    assert.equal(a.run.location.protocol, 'cursor:');
    assert.equal(a.run.location.host, 'anysphere.cursor-mcp');
    assert.ok(
      a.run.consentPage?.headers
        .get('content-security-policy')
        ?.includes("form-action 'self' cursor:"),
    );
    assert.equal((await exchange(gw, a)).status, 200);
  });

  it('VS Code: a loopback redirect on another port than the registered one', async () => {
    const { clientId } = await register(
      gw.origin,
      publicClient('http://127.0.0.1:33418/', { client_name: 'VS Code' }),
    );
    const a = await authorizeCode(gw, { clientId, redirectUri: 'http://127.0.0.1:50123/' });
    assert.equal(a.run.location.port, '50123');
    assert.equal((await exchange(gw, a)).status, 200);
  });

  it('a stale browser interaction page does not redirect anywhere', async () => {
    const hop = await send(gw.jar, `${gw.origin}/.pomerium/mcp/interaction/doesnotexist`);
    assert.equal(hop.status, 400);
    assert.equal(hop.headers.get('location'), null);
  });
});
