/**
 * Issue 8, the authorization server's share: remembered consent bound to one client (defect 2),
 * `scope=openid` refused instead of looping (6), refresh for clients that ask for
 * `offline_access` without `prompt=consent` and the scope-carrying 401 (8), `prompt=none`
 * answered as OIDC Core §3.1.2.6 says (15), and replays of the exact requests of the Codex CLI
 * and the Python SDKs.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { CookieJar } from './support/cookie-jar.js';
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
import { authorizeInBrowser, type BrowserResult } from './support/oauth-browser.js';

describe('hardening: the MCP authorization server', () => {
  let gw: OAuthTestGateway;
  before(async () => {
    gw = await startOAuthGateway();
  });
  after(() => gw?.close());

  /** Runs the browser through an authorization with the given parameters. */
  async function authorize(
    params: Record<string, string | undefined>,
    jar: CookieJar = gw.jar,
  ): Promise<BrowserResult & { verifier: string }> {
    const { verifier, challenge } = pkce();
    const url = authorizationUrl(gw.origin, {
      resource: gw.resource('/sqlite'),
      code_challenge: challenge,
      ...params,
    });
    const run = await authorizeInBrowser(url, {
      email: OAUTH_EMAIL,
      password: OAUTH_PASSWORD,
      jar,
    });
    return { ...run, verifier };
  }

  describe('defect 2: remembered consent belongs to one client', () => {
    const redirect = 'http://127.0.0.1:53690/callback';
    const metadata = publicClient(redirect, { client_name: 'Consent X' });
    let clientA: string;

    before(async () => {
      clientA = (await register(gw.origin, metadata)).clientId;
      const first = await authorize({ client_id: clientA, redirect_uri: redirect });
      assert.equal(first.consentShown, true);
      assert.ok(first.location.searchParams.get('code'));
    });

    it('a new confidential client with the same name and redirect URIs is asked', async () => {
      const reg = await register(gw.origin, {
        ...metadata,
        token_endpoint_auth_method: 'client_secret_basic',
      });
      assert.equal(reg.status, 201);
      assert.notEqual(reg.clientId, clientA, 'confidentiality differs: another client');
      const run = await authorize({ client_id: reg.clientId, redirect_uri: redirect });
      assert.equal(run.consentShown, true, 'the consent given to client A does not carry over');
    });

    it('a new public client differing in anything but the name is its own client, and asked', async () => {
      const reg = await register(gw.origin, { ...metadata, client_uri: 'https://other.example' });
      assert.notEqual(reg.clientId, clientA);
      const run = await authorize({ client_id: reg.clientId, redirect_uri: redirect });
      assert.equal(run.consentShown, true);
    });

    it('an identical re-registration keeps its client_id and is not asked again', async () => {
      const again = await register(gw.origin, metadata);
      assert.equal(again.clientId, clientA);
      const run = await authorize({ client_id: again.clientId, redirect_uri: redirect });
      assert.equal(run.consentShown, false);
      assert.ok(run.location.searchParams.get('code'));
    });

    it('the same client on another loopback port is not asked again (RFC 8252 §7.3)', async () => {
      // Native clients pick a new port at each authorization; only a program on the user's
      // machine can listen on it.
      const run = await authorize({
        client_id: clientA,
        redirect_uri: 'http://127.0.0.1:53691/callback',
      });
      assert.equal(run.consentShown, false);
      assert.equal(run.location.port, '53691');
      assert.ok(run.location.searchParams.get('code'));
    });

    it('the same client with another registered redirect URI is asked: the code goes elsewhere', async () => {
      const other = 'http://127.0.0.1:53690/other-callback';
      const reg = await register(gw.origin, {
        ...metadata,
        client_name: 'Two redirects',
        redirect_uris: [redirect, other],
      });
      const first = await authorize({ client_id: reg.clientId, redirect_uri: redirect });
      assert.equal(first.consentShown, true);
      const second = await authorize({ client_id: reg.clientId, redirect_uri: other });
      assert.equal(second.consentShown, true, 'consent for one redirect URI is not for another');
      const again = await authorize({ client_id: reg.clientId, redirect_uri: redirect });
      assert.equal(again.consentShown, false);
    });
  });

  describe('defect 6: scope=openid', () => {
    it('is not advertised: this server issues no ID tokens', async () => {
      for (const path of [
        '/.well-known/oauth-authorization-server',
        '/.well-known/openid-configuration',
      ]) {
        const as = (await (await fetch(`${gw.origin}${path}`)).json()) as {
          scopes_supported: string[];
        };
        assert.deepEqual(as.scopes_supported, ['mcp', 'offline_access'], path);
      }
    });

    it('is refused with invalid_scope at the client, once, with no grant saved', async () => {
      const redirect = 'http://127.0.0.1:53692/callback';
      const { clientId } = await register(
        gw.origin,
        // No `scope` in the registration: nothing narrows what the client may ask for.
        publicClient(redirect, { client_name: 'OIDC asker', scope: undefined }),
      );
      const grantsBefore = await countGrants();
      const run = await authorize({
        client_id: clientId,
        redirect_uri: redirect,
        scope: 'openid mcp',
      });
      assert.equal(run.location.searchParams.get('error'), 'invalid_scope');
      assert.equal(run.location.searchParams.get('code'), null);
      assert.equal(run.consentShown, false, 'refused before the consent page');
      assert.ok(run.hops.length < 6, `bounded: ${run.hops.length} hops`);
      assert.equal(await countGrants(), grantsBefore);
    });

    async function countGrants(): Promise<number> {
      return gw.logs.lines().filter((l) => l.msg === 'mcp client authorized').length;
    }
  });

  describe('defect 8: refresh for every client, and scopes in discovery', () => {
    it('the resource metadata lists only mcp (SEP-2207: offline_access is not a resource scope)', async () => {
      const prm = (await (
        await fetch(`${gw.origin}/.well-known/oauth-protected-resource/sqlite`)
      ).json()) as { scopes_supported: string[] };
      assert.deepEqual(prm.scopes_supported, ['mcp']);
    });

    it('the 401 challenge carries scope="mcp" (MCP 2025-11-25 §Scope Selection)', async () => {
      const res = await fetch(`${gw.origin}/sqlite`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{}',
      });
      assert.equal(res.status, 401);
      assert.equal(
        res.headers.get('www-authenticate'),
        `Bearer resource_metadata="${gw.origin}/.well-known/oauth-protected-resource/sqlite", scope="mcp"`,
      );
      const bad = await mcpWithToken(gw, '/sqlite', 'not-a-token');
      assert.match(bad.headers.get('www-authenticate') ?? '', /scope="mcp"/);
    });

    it('Codex CLI replay: mcp offline_access without prompt=consent, refreshed with the same scope', async () => {
      // The Codex CLI's requests as recorded in issue 8: a public client registered by DCR with
      // a loopback redirect; authorize with `scope=mcp offline_access` and no `prompt`; then
      // `grant_type=refresh_token&scope=mcp+offline_access&resource=…` (no client secret).
      const redirect = 'http://127.0.0.1:53693/callback';
      const reg = await register(gw.origin, {
        client_name: 'Codex',
        redirect_uris: [redirect],
        grant_types: ['authorization_code', 'refresh_token'],
        response_types: ['code'],
        token_endpoint_auth_method: 'none',
      });
      assert.equal(reg.status, 201);
      const run = await authorize({
        client_id: reg.clientId,
        redirect_uri: redirect,
        scope: 'mcp offline_access',
      });
      const code = run.location.searchParams.get('code');
      assert.ok(code, run.location.href);
      const tokens = await tokenRequest(gw.origin, {
        grant_type: 'authorization_code',
        code,
        code_verifier: run.verifier,
        redirect_uri: redirect,
        client_id: reg.clientId,
        resource: gw.resource('/sqlite'),
      });
      assert.equal(tokens.status, 200, JSON.stringify(tokens.body));
      // `scope` describes the access token (the resource's `mcp`); offline_access is the
      // refresh token's, which the refreshes below repeat.
      assert.equal(tokens.body.scope, 'mcp');
      assert.ok(tokens.body.refresh_token);
      let refresh = String(tokens.body.refresh_token);
      for (let i = 0; i < 2; i++) {
        const body = `grant_type=refresh_token&refresh_token=${encodeURIComponent(refresh)}&client_id=${reg.clientId}&scope=mcp+offline_access&resource=${encodeURIComponent(gw.resource('/sqlite'))}`;
        const res = await fetch(`${gw.origin}/.pomerium/mcp/token`, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body,
        });
        const json = (await res.json()) as Record<string, unknown>;
        assert.equal(res.status, 200, `refresh ${i + 1}: ${JSON.stringify(json)}`);
        assert.notEqual(json.refresh_token, refresh, 'rotated');
        refresh = String(json.refresh_token);
        assert.equal((await mcpWithToken(gw, '/sqlite', String(json.access_token))).status, 200);
      }
    });

    it('a client asking only mcp refreshes with scope=mcp and with no scope', async () => {
      const redirect = 'http://127.0.0.1:53694/callback';
      const reg = await register(gw.origin, publicClient(redirect, { scope: 'mcp' }));
      const run = await authorize({
        client_id: reg.clientId,
        redirect_uri: redirect,
        scope: 'mcp',
      });
      const a = {
        clientId: reg.clientId,
        code: run.location.searchParams.get('code') ?? '',
        verifier: run.verifier,
        redirectUri: redirect,
        run,
      };
      const tokens = await exchange(gw, a);
      assert.equal(tokens.status, 200, JSON.stringify(tokens.body));
      assert.ok(tokens.body.refresh_token, 'a refresh token for a client with the refresh grant');
      const withScope = await tokenRequest(gw.origin, {
        grant_type: 'refresh_token',
        refresh_token: String(tokens.body.refresh_token),
        client_id: reg.clientId,
        scope: 'mcp',
        resource: gw.resource('/sqlite'),
      });
      assert.equal(withScope.status, 200, JSON.stringify(withScope.body));
      const noScope = await tokenRequest(gw.origin, {
        grant_type: 'refresh_token',
        refresh_token: String(withScope.body.refresh_token),
        client_id: reg.clientId,
      });
      assert.equal(noScope.status, 200, JSON.stringify(noScope.body));
      const widened = await tokenRequest(gw.origin, {
        grant_type: 'refresh_token',
        refresh_token: String(noScope.body.refresh_token),
        client_id: reg.clientId,
        scope: 'mcp offline_access',
      });
      assert.equal(widened.status, 400, 'RFC 6749 §6: no scope beyond the original grant');
      assert.equal(widened.body.error, 'invalid_scope');
    });

    it('Python SDK replay: client_secret_post, resource everywhere, refresh without scope', async () => {
      // modelcontextprotocol/python-sdk `mcp.client.auth.oauth2.OAuthClientProvider` (fastmcp
      // uses it): registration is `OAuthClientMetadata.model_dump(exclude_none=True)` with
      // `token_endpoint_auth_method: client_secret_post`, grant types authorization_code and
      // refresh_token, response type code and the scope chosen by `get_client_metadata_scopes`
      // (the challenge's `scope`, plus offline_access when the AS metadata lists it and the
      // client has the refresh grant, SEP-2207). Authorize sends response_type, client_id,
      // redirect_uri, state, code_challenge(+S256), resource, scope; the code exchange and
      // `_refresh_token` send client_id, resource and client_secret in the body, no scope.
      const redirect = 'http://localhost:53695/callback';
      const challenge = await fetch(`${gw.origin}/sqlite`, { method: 'POST', body: '{}' });
      const scope = /scope="([^"]*)"/.exec(challenge.headers.get('www-authenticate') ?? '')?.[1];
      assert.equal(scope, 'mcp');
      const reg = await register(gw.origin, {
        redirect_uris: [redirect],
        token_endpoint_auth_method: 'client_secret_post',
        grant_types: ['authorization_code', 'refresh_token'],
        response_types: ['code'],
        scope: `${scope} offline_access`,
        client_name: 'python-sdk',
      });
      assert.equal(reg.status, 201, JSON.stringify(reg.body));
      const secret = String(reg.body.client_secret);
      const run = await authorize({
        client_id: reg.clientId,
        redirect_uri: redirect,
        scope: `${scope} offline_access`,
      });
      const code = run.location.searchParams.get('code');
      assert.ok(code, run.location.href);
      const tokens = await tokenRequest(gw.origin, {
        grant_type: 'authorization_code',
        code,
        redirect_uri: redirect,
        client_id: reg.clientId,
        code_verifier: run.verifier,
        resource: gw.resource('/sqlite'),
        client_secret: secret,
      });
      assert.equal(tokens.status, 200, JSON.stringify(tokens.body));
      const refreshed = await tokenRequest(gw.origin, {
        grant_type: 'refresh_token',
        refresh_token: String(tokens.body.refresh_token),
        client_id: reg.clientId,
        resource: gw.resource('/sqlite'),
        client_secret: secret,
      });
      assert.equal(refreshed.status, 200, JSON.stringify(refreshed.body));
      assert.equal(
        (await mcpWithToken(gw, '/sqlite', String(refreshed.body.access_token))).status,
        200,
      );
    });

    it('a replayed refresh token still revokes the family after an offline_access refresh', async () => {
      const a = await authorizeCode(gw, { redirectUri: 'http://127.0.0.1:53696/callback' });
      const first = await exchange(gw, a);
      const rt1 = String(first.body.refresh_token);
      const params = {
        grant_type: 'refresh_token',
        client_id: a.clientId,
        scope: 'mcp offline_access',
      };
      const ok = await tokenRequest(gw.origin, { ...params, refresh_token: rt1 });
      assert.equal(ok.status, 200, JSON.stringify(ok.body));
      const replay = await tokenRequest(gw.origin, { ...params, refresh_token: rt1 });
      assert.equal(replay.body.error, 'invalid_grant');
      assert.equal((await mcpWithToken(gw, '/sqlite', String(ok.body.access_token))).status, 401);
    });
  });

  describe('defect 15: prompt=none (OIDC Core §3.1.2.6)', () => {
    const redirect = 'http://127.0.0.1:53697/callback';
    let clientId: string;
    before(async () => {
      clientId = (await register(gw.origin, publicClient(redirect, { client_name: 'Silent' })))
        .clientId;
      const first = await authorize({ client_id: clientId, redirect_uri: redirect });
      assert.equal(first.consentShown, true);
    });

    it('a signed-in user who consented gets a code, with no page shown', async () => {
      const run = await authorize({ client_id: clientId, redirect_uri: redirect, prompt: 'none' });
      assert.equal(run.location.searchParams.get('error'), null, run.location.href);
      const code = run.location.searchParams.get('code');
      assert.ok(code);
      assert.equal(run.consentShown || run.signedIn, false);
      const tokens = await tokenRequest(gw.origin, {
        grant_type: 'authorization_code',
        code,
        code_verifier: run.verifier,
        redirect_uri: redirect,
        client_id: clientId,
        resource: gw.resource('/sqlite'),
      });
      assert.equal(tokens.status, 200, JSON.stringify(tokens.body));
    });

    it('a signed-in user who has not consented gets consent_required', async () => {
      const never = 'http://127.0.0.1:53698/callback';
      const fresh = await register(
        gw.origin,
        publicClient(never, { client_name: 'Never allowed' }),
      );
      const run = await authorize({
        client_id: fresh.clientId,
        redirect_uri: never,
        prompt: 'none',
      });
      assert.equal(run.location.searchParams.get('error'), 'consent_required');
      assert.equal(run.consentShown, false);
    });

    it('a browser with no gateway session gets login_required', async () => {
      const run = await authorize(
        { client_id: clientId, redirect_uri: redirect, prompt: 'none' },
        new CookieJar(),
      );
      assert.equal(run.location.searchParams.get('error'), 'login_required');
      assert.equal(run.signedIn, false);
    });

    it('prompt=none with offline_access asks nothing more than the consent it had', async () => {
      const run = await authorize({
        client_id: clientId,
        redirect_uri: redirect,
        prompt: 'none',
        scope: 'mcp offline_access',
      });
      assert.ok(run.location.searchParams.get('code'), run.location.href);
    });
  });
});
