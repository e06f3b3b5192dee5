/**
 * Requirements of the MCP authorization and transport specs and the OAuth RFCs behind them
 * that no other test proved; each test names the clause it proves, and docs/spec-coverage.md
 * maps every clause to its test. One gateway (and one host of Client ID Metadata Documents)
 * serves the whole file.
 */
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { networkInterfaces } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { startServersHost } from '../src/servers/host.js';
import { startCimdHost, type CimdHost } from './support/cimd-host.js';
import { CookieJar, send } from './support/cookie-jar.js';
import { silentLogger } from './support/host.js';
import { authorizeInBrowser } from './support/oauth-browser.js';
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
import { createTestCa, type TestCa } from './support/test-ca.js';
import { testServerFactory } from './support/test-server.js';

/** Short enough to wait out in a test, long enough for every exchange here to beat it. */
const CODE_LIFETIME_S = 4;

describe('spec coverage: the MCP authorization server', () => {
  let ca: TestCa;
  let docs: CimdHost;
  let gw: OAuthTestGateway;
  before(async () => {
    ca = createTestCa();
    docs = await startCimdHost(ca);
    gw = await startOAuthGateway(
      { lifetimes: { code: CODE_LIFETIME_S }, cimdFetch: { ca: ca.caPem } },
      'mcp_allowed_client_id_domains: [localhost]\nmcp_allowed_private_hosts: [localhost, 127.0.0.1]',
    );
  });
  after(async () => {
    await gw?.close();
    await docs?.close();
    ca?.remove();
  });

  /** The first answer to an authorization request, no redirect followed. */
  async function firstHop(params: Record<string, string | undefined>) {
    const url = authorizationUrl(gw.origin, {
      code_challenge: pkce().challenge,
      resource: gw.resource('/sqlite'),
      ...params,
    });
    const res = await fetch(url, { redirect: 'manual' });
    const to = res.headers.get('location');
    return { status: res.status, location: to ? new URL(to, url) : undefined };
  }

  /** A public client registered for `redirect`, and that redirect. */
  async function client(redirect: string, name = 'Spec client') {
    const reg = await register(gw.origin, publicClient(redirect, { client_name: name }));
    assert.equal(reg.status, 201, JSON.stringify(reg.body));
    return { clientId: reg.clientId, redirect };
  }

  /** A confidential (client_secret_basic) client and its secret. */
  async function confidential(redirect: string) {
    const reg = await register(gw.origin, {
      ...publicClient(redirect),
      token_endpoint_auth_method: 'client_secret_basic',
    });
    assert.equal(reg.status, 201, JSON.stringify(reg.body));
    return { clientId: reg.clientId, secret: String(reg.body.client_secret), redirect };
  }

  const revoke = (params: Record<string, string>, headers: Record<string, string> = {}) =>
    fetch(`${gw.origin}/.pomerium/mcp/revoke`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
      body: new URLSearchParams(params),
    });

  const basic = (id: string, secret: string) =>
    `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}`;

  /** A public client's refresh, naming each of `resources`. */
  async function refresh(clientId: string, refreshToken: string, resources: readonly string[]) {
    const form = new URLSearchParams({
      grant_type: 'refresh_token',
      refresh_token: refreshToken,
      client_id: clientId,
    });
    for (const resource of resources) form.append('resource', resource);
    const res = await fetch(`${gw.origin}/.pomerium/mcp/token`, { method: 'POST', body: form });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  }

  describe('discovery (RFC 9728, RFC 8414)', () => {
    it('discovery documents are application/json and omit empty arrays (RFC 9728 §3.2, RFC 8414 §3.2)', async () => {
      for (const path of [
        '/.well-known/oauth-protected-resource/sqlite',
        '/.well-known/oauth-authorization-server',
        '/.well-known/openid-configuration',
      ]) {
        const res = await fetch(`${gw.origin}${path}`);
        assert.equal(res.status, 200, path);
        assert.match(res.headers.get('content-type') ?? '', /^application\/json(;|$)/, path);
        const doc = (await res.json()) as Record<string, unknown>;
        for (const [name, value] of Object.entries(doc)) {
          assert.ok(!Array.isArray(value) || value.length > 0, `${path}: ${name} is empty`);
        }
      }
    });

    it('the bare protected resource metadata URL is not a path’s resource’s (RFC 9728 §3.3)', async () => {
      const res = await fetch(`${gw.origin}/.well-known/oauth-protected-resource`);
      assert.equal(res.status, 404);
      const own = await fetch(`${gw.origin}/.well-known/oauth-protected-resource/whoami`);
      assert.equal(((await own.json()) as { resource?: string }).resource, gw.resource('/whoami'));
    });

    it('the server metadata has what RFC 8414 §2 requires, with signing algorithms for private_key_jwt', async () => {
      const as = (await (
        await fetch(`${gw.origin}/.well-known/oauth-authorization-server`)
      ).json()) as Record<string, unknown>;
      const issuer = new URL(String(as.issuer));
      assert.equal(issuer.search + issuer.hash, '', 'no query or fragment in the issuer');
      assert.ok(as.authorization_endpoint && as.token_endpoint);
      assert.deepEqual(as.response_types_supported, ['code']);
      assert.ok((as.token_endpoint_auth_methods_supported as string[]).includes('private_key_jwt'));
      const algs = as.token_endpoint_auth_signing_alg_values_supported as string[];
      assert.ok(Array.isArray(algs) && algs.length > 0, 'present since private_key_jwt is');
      assert.equal(algs.includes('none'), false, '"none" MUST NOT be used');
    });
  });

  describe('the authorization endpoint (RFC 6749, OAuth 2.1, RFC 9207, RFC 7636, RFC 8707)', () => {
    const redirect = 'http://127.0.0.1:54101/cb';
    let clientId: string;
    before(async () => {
      ({ clientId } = await client(redirect));
    });

    it('state comes back unchanged with the code and with an error (RFC 6749 §4.1.2, §4.1.2.1)', async () => {
      const state = 'st-a.b_c~9';
      const ok = await authorizeInBrowser(
        authorizationUrl(gw.origin, {
          client_id: clientId,
          redirect_uri: redirect,
          code_challenge: pkce().challenge,
          resource: gw.resource('/sqlite'),
          state,
        }),
        { email: OAUTH_EMAIL, password: OAUTH_PASSWORD, jar: gw.jar },
      );
      assert.ok(ok.location.searchParams.get('code'));
      assert.equal(ok.location.searchParams.get('state'), state);
      const refused = await firstHop({
        client_id: clientId,
        redirect_uri: redirect,
        resource: 'https://elsewhere.example/mcp',
        state,
      });
      assert.equal(refused.location?.searchParams.get('error'), 'invalid_target');
      assert.equal(refused.location?.searchParams.get('state'), state);
    });

    it('errors sent to the redirect URI carry iss as well (RFC 9207 §2)', async () => {
      const refused = await firstHop({
        client_id: clientId,
        redirect_uri: redirect,
        resource: 'https://elsewhere.example/mcp',
      });
      assert.equal(refused.location?.origin, new URL(redirect).origin);
      assert.equal(refused.location?.searchParams.get('iss'), gw.origin);
      const denier = await client('http://127.0.0.1:54102/cb', 'Denier');
      const denied = await authorizeInBrowser(
        authorizationUrl(gw.origin, {
          client_id: denier.clientId,
          redirect_uri: denier.redirect,
          code_challenge: pkce().challenge,
          resource: gw.resource('/sqlite'),
        }),
        { email: OAUTH_EMAIL, password: OAUTH_PASSWORD, jar: gw.jar, decision: 'deny' },
      );
      assert.equal(denied.location.searchParams.get('error'), 'access_denied');
      assert.equal(denied.location.searchParams.get('iss'), gw.origin);
    });

    it('a parameter sent twice is refused with invalid_request (RFC 6749 §3.1)', async () => {
      const url = authorizationUrl(gw.origin, {
        client_id: clientId,
        redirect_uri: redirect,
        code_challenge: pkce().challenge,
        resource: gw.resource('/sqlite'),
      });
      url.searchParams.append('state', 'second');
      const hop = await send(gw.jar, url);
      const to = new URL(hop.headers.get('location') ?? '', url);
      assert.equal(to.origin, new URL(redirect).origin);
      assert.equal(to.searchParams.get('error'), 'invalid_request');
      assert.equal(to.searchParams.get('code'), null);
    });

    it('response_type=token is unsupported_response_type: no implicit grant (OAuth 2.1 §10.1)', async () => {
      const hop = await firstHop({
        client_id: clientId,
        redirect_uri: redirect,
        response_type: 'token',
      });
      const answer = new URLSearchParams(hop.location?.hash.slice(1));
      assert.equal(answer.get('error'), 'unsupported_response_type');
      assert.equal(answer.get('access_token'), null);
    });

    it('a code_challenge without code_challenge_method is refused: no plain fallback (RFC 7636 §4.3, OAuth 2.1 §4.1.1)', async () => {
      const hop = await firstHop({
        client_id: clientId,
        redirect_uri: redirect,
        code_challenge_method: undefined,
      });
      assert.equal(hop.location?.searchParams.get('error'), 'invalid_request');
      assert.equal(hop.location?.searchParams.get('code'), null);
    });

    it('a resource with a fragment is invalid_target (RFC 8707 §2)', async () => {
      const hop = await firstHop({
        client_id: clientId,
        redirect_uri: redirect,
        resource: `${gw.resource('/sqlite')}#frag`,
      });
      assert.equal(hop.location?.searchParams.get('error'), 'invalid_target');
    });

    it('without resource, a host with several MCP servers answers invalid_target at the redirect URI, before sign-in (RFC 8707 §2)', async () => {
      const state = 'no-resource';
      const hop = await firstHop({
        client_id: clientId,
        redirect_uri: redirect,
        resource: undefined,
        state,
      });
      assert.equal(hop.status, 303);
      assert.equal(hop.location?.origin, new URL(redirect).origin, 'not the sign-in page');
      assert.equal(hop.location?.searchParams.get('error'), 'invalid_target');
      assert.equal(hop.location?.searchParams.get('state'), state);
      assert.equal(hop.location?.searchParams.get('iss'), gw.origin);
    });

    it('a resource with its scheme and host in capitals is the same MCP server; its path is not (MCP Canonical Server URI)', async () => {
      const shouted = gw.resource('/sqlite').replace('http://localhost', 'HTTP://LOCALHOST');
      const a = await authorizeCode(gw, { clientId, redirectUri: redirect, resource: shouted });
      const t = await exchange(gw, a, shouted);
      assert.equal(t.status, 200, JSON.stringify(t.body));
      const access = String(t.body.access_token);
      assert.equal((await mcpWithToken(gw, '/sqlite', access)).status, 200);
      assert.equal((await mcpWithToken(gw, '/whoami', access)).status, 401);
      const refreshed = await refresh(clientId, String(t.body.refresh_token), [shouted]);
      assert.equal(refreshed.status, 200, JSON.stringify(refreshed.body));
      const path = await firstHop({
        client_id: clientId,
        redirect_uri: redirect,
        resource: `${gw.origin}/SQLITE`,
      });
      assert.equal(path.location?.searchParams.get('error'), 'invalid_target');
    });

    it('a POST authorization request is read as a GET one: resource spelling, default scope, prompt=none, the same errors (OIDC Core §3.1.2.1, RFC 8707 §2)', async () => {
      const params = (extra: Record<string, string | undefined>) => ({
        client_id: clientId,
        redirect_uri: redirect,
        state: 'posted',
        ...extra,
      });
      // A POST carries its parameters in the body (OIDC Core §3.1.2.1), the rest as a GET's.
      const posted = async (extra: Record<string, string | undefined>, jar = new CookieJar()) => {
        const form = authorizationUrl(gw.origin, params(extra)).searchParams;
        const hop = await send(jar, `${gw.origin}/.pomerium/mcp/authorize`, {
          form: Object.fromEntries(form),
        });
        const to = hop.headers.get('location');
        return { status: hop.status, location: to ? new URL(to, hop.url) : undefined };
      };
      const shouted = gw.resource('/sqlite').replace('http://localhost', 'HTTP://LOCALHOST');
      const { verifier, challenge } = pkce();
      // No scope: `mcp`, as at GET; the shouted resource names /sqlite.
      const start = await posted(
        { code_challenge: challenge, resource: shouted, scope: undefined },
        gw.jar,
      );
      assert.equal(start.status, 303);
      assert.equal(start.location?.origin, gw.origin, 'on to sign-in and consent');
      const run = await authorizeInBrowser(start.location ?? '', {
        email: OAUTH_EMAIL,
        password: OAUTH_PASSWORD,
        jar: gw.jar,
      });
      const code = run.location.searchParams.get('code');
      assert.ok(code, run.location.href);
      const t = await tokenRequest(gw.origin, {
        grant_type: 'authorization_code',
        code,
        code_verifier: verifier,
        redirect_uri: redirect,
        client_id: clientId,
        resource: shouted,
      });
      assert.equal(t.status, 200, JSON.stringify(t.body));
      assert.equal(t.body.scope, 'mcp');
      assert.equal((await mcpWithToken(gw, '/sqlite', String(t.body.access_token))).status, 200);
      // prompt=none, signed in and consent remembered: a code, no page.
      const silent = await posted(
        { code_challenge: pkce().challenge, resource: shouted, scope: 'mcp', prompt: 'none' },
        gw.jar,
      );
      const resumed = await authorizeInBrowser(silent.location ?? '', {
        email: OAUTH_EMAIL,
        password: OAUTH_PASSWORD,
        jar: gw.jar,
      });
      assert.equal(resumed.signedIn || resumed.consentShown, false, 'no page');
      assert.ok(resumed.location.searchParams.get('code'), resumed.location.href);
      // A bad resource gets the error a GET gets, at the redirect URI.
      for (const resource of [
        `${gw.origin}/SQLITE`,
        `${gw.resource('/sqlite')}#frag`,
        'https://elsewhere.example/mcp',
        undefined,
      ]) {
        const extra = { code_challenge: pkce().challenge, resource };
        const viaGet = await firstHop(params(extra));
        const viaPost = await posted(extra);
        assert.equal(viaPost.location?.origin, new URL(redirect).origin, String(resource));
        const [get, post] = [viaGet, viaPost].map((h) => h.location?.searchParams);
        assert.equal(get?.get('error'), 'invalid_target', String(resource));
        assert.equal(post?.get('error'), get?.get('error'), String(resource));
        assert.equal(post?.get('error_description'), get?.get('error_description'));
        assert.equal(post?.get('state'), 'posted');
        assert.equal(post?.get('iss'), gw.origin);
      }
      // Not a form: a page, nothing sent to the redirect URI (its client is not checked yet).
      const json = await fetch(`${gw.origin}/.pomerium/mcp/authorize`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(params({ code_challenge: pkce().challenge })),
        redirect: 'manual',
      });
      assert.equal(json.status, 415);
      assert.equal(json.headers.get('location'), null);
      assert.match(json.headers.get('content-type') ?? '', /^text\/html/);
    });
  });

  describe('the token endpoint (RFC 6749, OAuth 2.1, RFC 7636, RFC 8707)', () => {
    const redirect = 'http://127.0.0.1:54111/cb';
    let clientId: string;
    let otherId: string;
    before(async () => {
      ({ clientId } = await client(redirect));
      ({ clientId: otherId } = await client('http://127.0.0.1:54112/cb', 'Other'));
    });

    it('answers with Cache-Control: no-store (RFC 6749 §5.1) and access tokens that live 15 minutes (MCP Token Theft)', async () => {
      const t = await exchange(gw, await authorizeCode(gw, { clientId, redirectUri: redirect }));
      assert.equal(t.status, 200, JSON.stringify(t.body));
      assert.equal(t.headers.get('cache-control'), 'no-store');
      assert.equal(t.body.token_type, 'Bearer');
      assert.equal(t.body.expires_in, 15 * 60);
    });

    it('a code is redeemed only by its client, with its redirect URI (RFC 6749 §4.1.3)', async () => {
      const a = await authorizeCode(gw, { clientId, redirectUri: redirect });
      const other = await exchange(gw, { ...a, clientId: otherId });
      assert.equal(other.status, 400);
      assert.equal(other.body.error, 'invalid_grant');
      const b = await authorizeCode(gw, { clientId, redirectUri: redirect });
      const elsewhere = await exchange(gw, { ...b, redirectUri: 'http://127.0.0.1:54111/other' });
      assert.equal(elsewhere.status, 400);
      assert.equal(elsewhere.body.error, 'invalid_grant');
      assert.equal(elsewhere.body.access_token, undefined);
    });

    it('a code past its lifetime is refused (RFC 6749 §4.1.2)', async () => {
      const a = await authorizeCode(gw, { clientId, redirectUri: redirect });
      await sleep(CODE_LIFETIME_S * 1000 + 1_200);
      const t = await exchange(gw, a);
      assert.equal(t.status, 400);
      assert.equal(t.body.error, 'invalid_grant');
    });

    it('a token request without code_verifier is refused (RFC 7636 §4.5, §4.6)', async () => {
      const a = await authorizeCode(gw, { clientId, redirectUri: redirect });
      const t = await tokenRequest(gw.origin, {
        grant_type: 'authorization_code',
        code: a.code,
        redirect_uri: redirect,
        client_id: clientId,
        resource: gw.resource('/sqlite'),
      });
      assert.equal(t.status, 400);
      assert.equal(t.body.error, 'invalid_grant');
    });

    it('the password grant is unsupported_grant_type: not part of OAuth 2.1 (§1.8)', async () => {
      const t = await tokenRequest(gw.origin, {
        grant_type: 'password',
        username: OAUTH_EMAIL,
        password: OAUTH_PASSWORD,
        client_id: clientId,
      });
      assert.equal(t.status, 400);
      assert.equal(t.body.error, 'unsupported_grant_type');
    });

    it('a confidential client that does not authenticate, or fails Basic, gets 401 invalid_client (RFC 6749 §2.3.1, §5.2)', async () => {
      const c = await confidential('https://spec-app.example/cb');
      const a = await authorizeCode(gw, { clientId: c.clientId, redirectUri: c.redirect });
      const params = {
        grant_type: 'authorization_code',
        code: a.code,
        code_verifier: a.verifier,
        redirect_uri: c.redirect,
        resource: gw.resource('/sqlite'),
      };
      const none = await tokenRequest(gw.origin, { ...params, client_id: c.clientId });
      assert.equal(none.status, 401);
      assert.equal(none.body.error, 'invalid_client');
      const wrong = await tokenRequest(gw.origin, params, { basic: [c.clientId, `${c.secret}x`] });
      assert.equal(wrong.status, 401);
      assert.equal(wrong.body.error, 'invalid_client');
      assert.match(wrong.headers.get('www-authenticate') ?? '', /^Basic /);
    });

    it('a refresh token works only for the client it was issued to (RFC 6749 §6, OAuth 2.1 §4.3.1)', async () => {
      const t = await exchange(gw, await authorizeCode(gw, { clientId, redirectUri: redirect }));
      const refresh = String(t.body.refresh_token);
      const stolen = await tokenRequest(gw.origin, {
        grant_type: 'refresh_token',
        refresh_token: refresh,
        client_id: otherId,
      });
      assert.equal(stolen.status, 400);
      assert.equal(stolen.body.error, 'invalid_grant');
      assert.equal(stolen.body.access_token, undefined);
      const own = await tokenRequest(gw.origin, {
        grant_type: 'refresh_token',
        refresh_token: refresh,
        client_id: clientId,
      });
      assert.equal(own.status, 200, JSON.stringify(own.body));
    });

    it('a refresh token is not exchanged for a token for another resource, and stays good (RFC 8707 §2.2)', async () => {
      const t = await exchange(gw, await authorizeCode(gw, { clientId, redirectUri: redirect }));
      const refreshToken = String(t.body.refresh_token);
      for (const resources of [
        [gw.resource('/whoami')],
        ['https://elsewhere.example/mcp'],
        [gw.resource('/sqlite'), gw.resource('/sqlite')],
      ]) {
        const res = await refresh(clientId, refreshToken, resources);
        assert.equal(res.status, 400, resources.join(' '));
        assert.equal(res.body.error, 'invalid_target', resources.join(' '));
        assert.equal(res.body.access_token, undefined);
      }
      // Not spent by the refusals: its next refresh is no replay, and the grant lives on.
      const own = await refresh(clientId, refreshToken, [gw.resource('/sqlite')]);
      assert.equal(own.status, 200, JSON.stringify(own.body));
      assert.equal((await mcpWithToken(gw, '/sqlite', String(t.body.access_token))).status, 200);
      const next = await refresh(clientId, String(own.body.refresh_token), []);
      assert.equal(next.status, 200, JSON.stringify(next.body));
    });
  });

  describe('revocation (RFC 7009)', () => {
    const redirect = 'http://127.0.0.1:54121/cb';
    let clientId: string;
    before(async () => {
      ({ clientId } = await client(redirect));
    });

    it('an unknown token is answered 200 (RFC 7009 §2.2)', async () => {
      const res = await revoke({ token: 'x'.repeat(43), client_id: clientId });
      assert.equal(res.status, 200);
    });

    it('a revoked refresh token ends, and takes its access tokens with it (RFC 7009 §2.1)', async () => {
      const t = await exchange(gw, await authorizeCode(gw, { clientId, redirectUri: redirect }));
      const access = String(t.body.access_token);
      assert.equal((await mcpWithToken(gw, '/sqlite', access)).status, 200);
      const res = await revoke({
        token: String(t.body.refresh_token),
        token_type_hint: 'refresh_token',
        client_id: clientId,
      });
      assert.equal(res.status, 200);
      const refreshed = await tokenRequest(gw.origin, {
        grant_type: 'refresh_token',
        refresh_token: String(t.body.refresh_token),
        client_id: clientId,
      });
      assert.equal(refreshed.body.error, 'invalid_grant');
      assert.equal((await mcpWithToken(gw, '/sqlite', access)).status, 401);
    });

    it('a client cannot revoke another client’s token, and a confidential one must authenticate (RFC 7009 §2.1)', async () => {
      const owner = await confidential('https://spec-owner.example/cb');
      const intruder = await confidential('https://spec-intruder.example/cb');
      const a = await authorizeCode(gw, { clientId: owner.clientId, redirectUri: owner.redirect });
      const t = await tokenRequest(
        gw.origin,
        {
          grant_type: 'authorization_code',
          code: a.code,
          code_verifier: a.verifier,
          redirect_uri: owner.redirect,
          resource: gw.resource('/sqlite'),
        },
        { basic: [owner.clientId, owner.secret] },
      );
      const access = String(t.body.access_token);
      const foreign = await revoke(
        { token: access },
        { authorization: basic(intruder.clientId, intruder.secret) },
      );
      assert.equal(foreign.status, 400);
      assert.equal(((await foreign.json()) as { error?: string }).error, 'invalid_grant');
      const unauthenticated = await revoke(
        { token: access },
        { authorization: basic(owner.clientId, `${owner.secret}x`) },
      );
      assert.equal(unauthenticated.status, 401);
      // A public client is told as well (RFC 7009 §2.1), with the same error.
      const byPublic = await revoke({ token: access, client_id: clientId });
      assert.equal(byPublic.status, 400);
      assert.equal(((await byPublic.json()) as { error?: string }).error, 'invalid_grant');
      assert.equal((await mcpWithToken(gw, '/sqlite', access)).status, 200, 'still live');
      const own = await revoke(
        { token: access },
        { authorization: basic(owner.clientId, owner.secret) },
      );
      assert.equal(own.status, 200);
      assert.equal((await mcpWithToken(gw, '/sqlite', access)).status, 401);
    });
  });

  describe('registration (RFC 7591)', () => {
    it('answers 201 with client_id and the metadata it registered, ignoring members it does not know (RFC 7591 §2, §3.2.1)', async () => {
      const redirect = 'http://127.0.0.1:54131/cb';
      const reg = await register(
        gw.origin,
        publicClient(redirect, { client_name: 'Echo', x_not_a_field: 'ignored' }),
      );
      assert.equal(reg.status, 201, JSON.stringify(reg.body));
      assert.ok(reg.clientId);
      assert.equal(reg.body.client_name, 'Echo');
      assert.deepEqual(reg.body.redirect_uris, [redirect]);
      assert.deepEqual(reg.body.grant_types, ['authorization_code', 'refresh_token']);
      assert.equal(reg.body.token_endpoint_auth_method, 'none');
      assert.equal(reg.body.x_not_a_field, undefined);
      assert.equal(reg.body.client_secret, undefined, 'a public client gets no secret');
    });

    it('a registration that names no auth method is a client_secret_basic client (RFC 7591 §2)', async () => {
      const reg = await register(gw.origin, { redirect_uris: ['https://spec-default.example/cb'] });
      assert.equal(reg.status, 201, JSON.stringify(reg.body));
      assert.equal(reg.body.token_endpoint_auth_method, 'client_secret_basic');
      assert.ok(String(reg.body.client_secret).length >= 40);
    });
  });

  describe('resource requests (OAuth 2.1 §5, RFC 6750)', () => {
    it('a token in the query string is not accepted, only in the Authorization header (RFC 6750 §2.3, MCP Access Token Usage)', async () => {
      const redirect = 'http://127.0.0.1:54141/cb';
      const { clientId } = await client(redirect);
      const t = await exchange(gw, await authorizeCode(gw, { clientId, redirectUri: redirect }));
      const token = String(t.body.access_token);
      gw.upstream.reset();
      const res = await fetch(`${gw.origin}/sqlite?access_token=${encodeURIComponent(token)}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json' },
        body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }),
      });
      assert.equal(res.status, 401);
      assert.equal(gw.upstream.requests.length, 0);
      assert.equal((await mcpWithToken(gw, '/sqlite', token)).status, 200, 'the token is good');
    });
  });

  describe('Client ID Metadata Documents (MCP 2025-11-25 Authorization)', () => {
    const listed = 'http://127.0.0.1:54151/callback';
    const document = (clientId: string, extra: Record<string, unknown> = {}) => ({
      client_id: clientId,
      client_name: 'Spec CIMD client',
      redirect_uris: [listed],
      grant_types: ['authorization_code'],
      response_types: ['code'],
      token_endpoint_auth_method: 'none',
      ...extra,
    });

    /** A refusal before the client is known good: a page, never a redirect. */
    async function assertPage(clientId: string, redirect: string, what: string) {
      const url = authorizationUrl(gw.origin, {
        client_id: clientId,
        redirect_uri: redirect,
        code_challenge: pkce().challenge,
        resource: gw.resource('/whoami'),
      });
      const res = await fetch(url, { redirect: 'manual' });
      assert.equal(res.headers.get('location'), null, `${what}: redirected`);
      assert.equal(res.status, 400, what);
      return res.text();
    }

    it('a document client is held to the redirect URIs its document lists', async () => {
      const url = docs.url('/spec/listed.json');
      docs.serve('/spec/listed.json', document(url));
      const accepted = await fetch(
        authorizationUrl(gw.origin, {
          client_id: url,
          redirect_uri: listed,
          code_challenge: pkce().challenge,
          resource: gw.resource('/whoami'),
        }),
        { redirect: 'manual' },
      );
      assert.equal(accepted.status, 303);
      assert.match(accepted.headers.get('location') ?? '', /\/\.pomerium\/mcp\/interaction\//);
      const body = await assertPage(url, 'http://127.0.0.1:54151/elsewhere', 'unlisted');
      assert.match(body, /redirect_uri/);
    });

    it('a document without redirect_uris, or that is not a JSON object, is refused', async () => {
      const bare = docs.url('/spec/no-redirects.json');
      docs.serve('/spec/no-redirects.json', document(bare, { redirect_uris: undefined }));
      await assertPage(bare, listed, 'no redirect_uris');
      const list = docs.url('/spec/array.json');
      docs.serve('/spec/array.json', [document(list)]);
      await assertPage(list, listed, 'an array');
    });
  });
});

describe('spec coverage: a host with one MCP server, at its root', () => {
  let gw: OAuthTestGateway;
  before(async () => {
    gw = await startOAuthGateway(
      {},
      '',
      (origin, upstreamUrl) => `
  - from: ${origin}
    to: ${upstreamUrl}/whoami
    name: Root
    allow_any_authenticated_user: true
    mcp: { server: {} }
`,
    );
  });
  after(async () => {
    await gw?.close();
  });

  it('serves the root resource’s metadata at the bare URL (RFC 9728 §3.1, §3.3)', async () => {
    const res = await fetch(`${gw.origin}/.well-known/oauth-protected-resource`);
    assert.equal(res.status, 200);
    assert.equal(((await res.json()) as { resource?: string }).resource, gw.origin);
  });

  it('an authorization request without resource is for the one MCP server (RFC 8707 §2)', async () => {
    const redirect = 'http://127.0.0.1:54161/cb';
    const reg = await register(gw.origin, publicClient(redirect));
    const { verifier, challenge } = pkce();
    const run = await authorizeInBrowser(
      authorizationUrl(gw.origin, {
        client_id: reg.clientId,
        redirect_uri: redirect,
        code_challenge: challenge,
      }),
      { email: OAUTH_EMAIL, password: OAUTH_PASSWORD, jar: gw.jar },
    );
    const code = run.location.searchParams.get('code');
    assert.ok(code, run.location.href);
    const t = await tokenRequest(gw.origin, {
      grant_type: 'authorization_code',
      code,
      code_verifier: verifier,
      redirect_uri: redirect,
      client_id: reg.clientId,
    });
    assert.equal(t.status, 200, JSON.stringify(t.body));
    assert.equal((await mcpWithToken(gw, '/', String(t.body.access_token))).status, 200);
  });
});

describe('spec coverage: the servers host', () => {
  it('listens on loopback only unless HOST says otherwise (MCP Transports, Security Warning 2)', async () => {
    const host = await startServersHost({ env: { PORT: '0' }, logger: silentLogger }, [
      testServerFactory(),
    ]);
    try {
      assert.match(new URL(host.url).hostname, /^(127\.0\.0\.1|\[::1\])$/);
      const outward = Object.values(networkInterfaces())
        .flat()
        // Link-local IPv6 addresses need a zone to connect to; the others make the point.
        .filter((a) => a !== undefined && !a.internal && !a.address.startsWith('fe80:'))
        .map((a) => a!.address);
      for (const address of outward) {
        const reached = await new Promise<boolean>((resolve) => {
          const socket = connect({ host: address, port: host.port, timeout: 1_000 });
          const done = (connected: boolean) => {
            socket.destroy();
            resolve(connected);
          };
          socket.once('connect', () => done(true));
          socket.once('error', () => done(false));
          socket.once('timeout', () => done(false));
        });
        assert.equal(reached, false, `reachable on ${address}`);
      }
    } finally {
      await host.close();
    }
  });
});
