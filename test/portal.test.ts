/**
 * The portal over HTTP (issue 10, "The portal"): where it is served and to whom, what it lists,
 * the links and forms it offers, and the refusals of its two actions: a POST from another site,
 * and one user's attempt on another user's MCP client. The browser's side is
 * `portal-chromium.test.ts`.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { CookieJar, follow } from './support/cookie-jar.js';
import { cookie, mcpPost, send, signIn } from './support/gateway.js';
import { authorizeWithSdk, BrowserOAuthProvider } from './support/oauth-client.js';
import { tokenRequest } from './support/oauth-flow.js';
import {
  ALICE,
  BOB,
  PORTAL_PASSWORD,
  startPortalRig,
  type PortalRig,
} from './support/portal-rig.js';

const tools = { jsonrpc: '2.0', id: 1, method: 'tools/list' };

/** The text of an HTML fragment's elements, entities decoded (enough for our own pages). */
function text(html: string): string {
  return html
    .replace(/<[^>]+>/g, '')
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&#96;/g, '`')
    .replace(/&amp;/g, '&');
}

/** The text of the element with `id`. */
function byId(page: string, id: string): string {
  const found = new RegExp(`id="${id}">([\\s\\S]*?)</code>`).exec(page)?.[1];
  assert.ok(found !== undefined, `no #${id}`);
  return text(found);
}

/** The section of the page about the server named `name`. */
function serverCard(page: string, name: string): string {
  const card = page
    .split('<section class="card"')
    .find((s) => new RegExp(`<h3>${name}</h3>`).test(s));
  assert.ok(card, `no server ${name} on the page`);
  return card;
}

describe('the portal over HTTP', () => {
  let rig: PortalRig;
  let alice: string;
  let bob: string;

  before(async () => {
    rig = await startPortalRig('portcullis-portal-');
    [alice, bob] = await Promise.all([
      signIn(rig.origin, ALICE, PORTAL_PASSWORD),
      signIn(rig.origin, BOB, PORTAL_PASSWORD),
    ]);
  });
  after(() => rig?.close());

  const portal = (session: string, path = '/.pomerium/', host?: string) =>
    send(rig.origin, { path, headers: { ...cookie(session), ...(host ? { host } : {}) } });

  /** A form POST of the portal, with the headers of a same-origin page unless overridden. */
  const post = (path: string, session: string, form: Record<string, string>, headers = {}) =>
    send(rig.origin, {
      method: 'POST',
      path,
      headers: {
        ...cookie(session),
        origin: rig.origin,
        'content-type': 'application/x-www-form-urlencoded',
        ...headers,
      },
      body: new URLSearchParams(form).toString(),
    });

  it('a visitor is sent to sign in and comes back to the portal', async () => {
    const jar = new CookieJar();
    const toForm = await follow(jar, rig.url('/.pomerium/'));
    assert.equal(toForm[0]?.status, 302);
    const form = toForm.at(-1)!;
    assert.match(form.url.pathname, /^\/\.pomerium\/idp\/interaction\//);
    const back = await follow(jar, form.url, { form: { email: ALICE, password: PORTAL_PASSWORD } });
    const page = back.at(-1)!;
    assert.equal(page.url.href, rig.url('/.pomerium/'));
    assert.equal(page.status, 200);
    assert.match(page.body, /Signed in as <strong>Alice<\/strong>/);
  });

  it('served at /.pomerium/ on every host, at / where no route serves it, GET and HEAD only', async () => {
    const root = await portal(alice, '/');
    assert.equal(root.status, 200);
    assert.match(root.body, /<h1>MCP servers<\/h1>/);
    const site = `site.localhost:${new URL(rig.origin).port}`;
    const routed = await portal(alice, '/', site);
    assert.equal(routed.body, 'the site itself', 'a route that serves / keeps it');
    const here = await portal(alice, '/.pomerium/', site);
    assert.equal(here.status, 200, 'the portal at /.pomerium/ on the other host too');
    assert.match(here.body, /Signed in as <strong>Alice<\/strong>/);
    const visitor = await send(rig.origin, { path: '/.pomerium/', headers: { host: site } });
    assert.equal(visitor.status, 302, 'and a visitor there signs in first');
    const head = await send(rig.origin, {
      method: 'HEAD',
      path: '/.pomerium/',
      headers: cookie(alice),
    });
    assert.equal(head.status, 200);
    assert.equal(head.body, '');
    const put = await send(rig.origin, {
      method: 'PUT',
      path: '/.pomerium/',
      headers: cookie(alice),
    });
    assert.equal(put.status, 405);
    assert.equal(put.headers.allow, 'GET, HEAD');
  });

  it('lists the servers the user may reach, each with its URL, snippets and connection', async () => {
    const page = (await portal(alice)).body;
    assert.doesNotMatch(page, /<h3>Private<\/h3>/, 'Alice may not reach Private');
    assert.match((await portal(bob)).body, /<h3>Private<\/h3>/);
    const open = serverCard(page, 'Open');
    assert.match(open, /Ready/);
    assert.doesNotMatch(open, /Connect</);
    const notes = serverCard(page, 'Notes');
    assert.match(notes, /Your notes at the upstream service/);
    assert.match(notes, /Not connected/);
    const id = /id="(server-\d+)"/.exec(notes)?.[1] ?? '';
    assert.equal(byId(page, `${id}-url`), rig.url('/notes'));
    assert.equal(
      byId(page, `${id}-snippet-0`),
      `claude mcp add --transport http notes ${rig.url('/notes')}`,
    );
    assert.deepEqual(JSON.parse(byId(page, `${id}-snippet-1`)), {
      servers: { notes: { type: 'http', url: rig.url('/notes') } },
    });
    assert.deepEqual(JSON.parse(byId(page, `${id}-snippet-2`)), {
      mcpServers: { notes: { url: rig.url('/notes') } },
    });
  });

  it('Connect links to the connect endpoint, which takes it and comes back to the page', async () => {
    const notes = serverCard((await portal(alice)).body, 'Notes');
    const href = text(/href="([^"]+)">Connect</.exec(notes)?.[1] ?? '');
    const link = new URL(href);
    assert.equal(link.origin + link.pathname, rig.url('/.pomerium/mcp/connect'));
    assert.equal(link.searchParams.get('redirect_url'), rig.url('/.pomerium/'));
    assert.equal(link.searchParams.get('route'), rig.url('/notes'));
    const connect = await send(rig.origin, {
      path: link.pathname + link.search,
      headers: cookie(alice),
    });
    assert.equal(connect.status, 302);
    assert.equal(new URL(connect.headers.location ?? '').origin, rig.provider.issuer);
    // A failure the callback reports back is shown, escaped.
    const failed = await portal(alice, '/.pomerium/?connect_error=%3Cb%3Erefused%3C%2Fb%3E');
    assert.match(failed.body, /Could not connect: &lt;b&gt;refused&lt;\/b&gt;/);
    const notice = await portal(alice, '/.pomerium/?notice=<script>');
    assert.doesNotMatch(notice.body, /role="status"/, 'only notices of our own');
  });

  describe('MCP clients', () => {
    let bobsClient: BrowserOAuthProvider;
    let bobsKey: string;

    const bobsCall = () =>
      mcpPost(rig.origin, '/open', tools, {
        headers: { authorization: `Bearer ${bobsClient.tokens()?.access_token}` },
      });

    before(async () => {
      bobsClient = new BrowserOAuthProvider(
        { email: BOB, password: PORTAL_PASSWORD, jar: new CookieJar() },
        { client_name: 'Bob’s CLI' },
      );
      await authorizeWithSdk(bobsClient, rig.url('/open'));
      assert.equal((await bobsCall()).status, 200);
    });

    it('each user sees the clients they authorized, and only those', async () => {
      const page = (await portal(bob)).body;
      const row = page.split('<tr>').find((r) => r.includes('Bob’s CLI'));
      assert.ok(row, 'Bob sees his client');
      assert.match(row, /redirects to 127\.0\.0\.1:53682/);
      assert.match(row, /<td>Open<\/td>/);
      assert.doesNotMatch(row, /not yet/, 'it got a token: last used is known');
      bobsKey = /name="client" value="([0-9a-f]{64})"/.exec(row)?.[1] ?? '';
      assert.ok(bobsKey);
      assert.doesNotMatch((await portal(alice)).body, /Bob’s CLI/);
    });

    it('refuses a revoke or disconnect POST from another site, or from no page at all', async () => {
      for (const path of ['/.pomerium/portal/revoke', '/.pomerium/portal/disconnect']) {
        const form = { client: bobsKey, route: rig.url('/notes') };
        for (const headers of [
          { origin: 'https://evil.example' },
          { origin: `http://site.localhost:${new URL(rig.origin).port}` },
          { origin: 'null', 'sec-fetch-site': 'cross-site' },
          { origin: undefined },
        ]) {
          const res = await post(path, bob, form, headers);
          assert.equal(res.status, 403, `${path} ${JSON.stringify(headers)}`);
          assert.match(res.body, /must come from the portal page/);
        }
      }
      assert.equal((await bobsCall()).status, 200, 'the client still works');
      const same = await post(
        '/.pomerium/portal/revoke',
        bob,
        {},
        { 'content-type': 'text/plain' },
      );
      assert.equal(same.status, 415);
      const get = await send(rig.origin, {
        path: '/.pomerium/portal/revoke',
        headers: cookie(bob),
      });
      assert.equal(get.status, 405);
    });

    it('one user cannot revoke another user’s client, even knowing its key', async () => {
      const res = await post('/.pomerium/portal/revoke', alice, { client: bobsKey });
      assert.equal(res.status, 303);
      assert.equal(res.headers.location, '/.pomerium/?notice=unknown-client');
      assert.equal((await bobsCall()).status, 200);
      const shown = await portal(alice, res.headers.location);
      assert.match(shown.body, /That is no MCP client you authorized/);
      assert.match((await portal(bob)).body, /Bob’s CLI/);
    });

    it('revoke by its user: the next call is 401, the refresh fails, consent is asked again', async () => {
      const refreshToken = bobsClient.tokens()?.refresh_token;
      const clientId = bobsClient.clientInformation()?.client_id ?? '';
      const res = await post('/.pomerium/portal/revoke', bob, { client: bobsKey });
      assert.equal(res.headers.location, '/.pomerium/?notice=revoked');
      assert.equal((await bobsCall()).status, 401);
      assert.ok(refreshToken, 'the client held a refresh token');
      const refresh = await tokenRequest(rig.origin, {
        grant_type: 'refresh_token',
        refresh_token: refreshToken,
        client_id: clientId,
      });
      assert.equal(refresh.body.error, 'invalid_grant');
      assert.doesNotMatch((await portal(bob)).body, /Bob’s CLI/);
      bobsClient.forgetTokens();
      await authorizeWithSdk(bobsClient, rig.url('/open'));
      assert.equal(bobsClient.lastRun?.consentShown, true, 'the consent was forgotten');
      assert.equal((await bobsCall()).status, 200);
    });
  });

  it('disconnect names an MCP server of this gateway', async () => {
    const res = await post('/.pomerium/portal/disconnect', alice, { route: 'https://x.example/' });
    assert.equal(res.headers.location, '/.pomerium/?notice=unknown-server');
    const missing = await post('/.pomerium/portal/disconnect', alice, { route: rig.url('/open') });
    assert.equal(missing.headers.location, '/.pomerium/?notice=disconnected', 'nothing held: done');
  });

  it('an action without a session goes to sign-in, and changes nothing', async () => {
    const res = await post('/.pomerium/portal/revoke', 'not-a-session', { client: '0'.repeat(64) });
    assert.equal(res.status, 302);
    assert.match(res.headers.location ?? '', /\/\.pomerium\/idp\//);
  });
});
