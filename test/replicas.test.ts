/**
 * Three gateway processes (the shipped CLI) on one PostgreSQL, one public origin, behind a
 * round-robin balancer that sends every request to the next replica: the MCP SDK's own client
 * goes through discovery, registration, authorization, code exchange, a refresh and tool calls
 * with its requests spread over all three; a token revoked or a session signed out on one
 * replica is refused on the other two (the lag each took is printed); a replica killed with
 * SIGKILL in the middle of an authorization leaves the flow to finish on the others.
 */
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { auth } from '@modelcontextprotocol/sdk/client/auth.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { hashPassword } from '../src/core/crypto.js';
import { CookieJar, follow } from './support/cookie-jar.js';
import { gatewayYamlHead, mcpPost, send, SESSION_COOKIE, type Sent } from './support/gateway.js';
import { firstText } from './support/mcp-client.js';
import { authorizeInBrowser, type BrowserOptions } from './support/oauth-browser.js';
import { authorizeWithSdk, BrowserOAuthProvider } from './support/oauth-client.js';
import { startPostgres, type TestPostgres } from './support/postgres.js';
import {
  startRecordingMcpServer,
  type RecordingMcpServer,
} from './support/recording-mcp-server.js';
import {
  startReplicas,
  startRoundRobin,
  type Replica,
  type Replicas,
  type RoundRobin,
} from './support/replicas.js';

const ADA = 'ada@example.com';
const PASSWORD = 'replicas test password';

/** One key for every replica, as a deployment would configure it (base64 of the PEM). */
const SIGNING_KEY = Buffer.from(
  generateKeyPairSync('ec', { namedCurve: 'P-256' })
    .privateKey.export({ type: 'pkcs8', format: 'pem' })
    .toString(),
).toString('base64');

/**
 * Plays the browser up to the first page the gateway shows (sign-in), then calls `interrupt`
 * with that page's URL, then plays the rest of the flow from that page in the same browser.
 */
class InterruptedBrowserProvider extends BrowserOAuthProvider {
  constructor(
    private readonly options: BrowserOptions & { readonly jar: CookieJar },
    private readonly interrupt: (page: URL) => Promise<void>,
  ) {
    // Its own redirect URI: a client of its own, so consent is asked (not remembered).
    super(options, {}, 'http://127.0.0.1:53683/callback');
  }
  override async redirectToAuthorization(url: URL) {
    const page = (await follow(this.options.jar, url)).at(-1);
    assert.equal(page?.status, 200, page?.body);
    await this.interrupt(page.url);
    this.lastRun = await authorizeInBrowser(page.url, this.options);
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls every 50 ms until `refused()` (10 s at most); returns the ms since `since`. */
async function lagUntil(refused: () => Promise<boolean>, since: number, what: string) {
  while (!(await refused())) {
    const waited = performance.now() - since;
    assert.ok(waited < 10_000, `${what}: still accepted after ${waited.toFixed(0)} ms`);
    await sleep(50);
  }
  return performance.now() - since;
}

function replicaYaml(port: number, publicOrigin: string, database: string, upstream: string) {
  return (hash: string) => `
${gatewayYamlHead(port)}
signing_key: ${SIGNING_KEY}
databroker_storage_type: postgres
databroker_storage_connection_string: ${database}
builtin_users:
  - { email: ${ADA}, name: Ada, groups: [staff], password_hash: '${hash}' }
routes:
  - from: ${publicOrigin}
    prefix: /mcp
    to: ${upstream}/mcp
    allow_any_authenticated_user: true
    mcp: { server: {} }
`;
}

describe('three gateway processes on one PostgreSQL behind a round-robin balancer', () => {
  let postgres: TestPostgres;
  let upstream: RecordingMcpServer;
  let balancer: RoundRobin;
  let replicas: Replicas;
  let serverUrl = '';

  before(async () => {
    [postgres, upstream, balancer] = await Promise.all([
      startPostgres(),
      startRecordingMcpServer(),
      startRoundRobin(),
    ]);
    const database = await postgres.createDatabase('replicas');
    const hash = await hashPassword(PASSWORD);
    replicas = await startReplicas(3, (port) =>
      replicaYaml(port, balancer.origin, database, upstream.url)(hash),
    );
    balancer.backends = replicas.list.map((r) => r.port);
    serverUrl = `${balancer.origin}/mcp`;
  });
  after(async () => {
    await replicas?.close();
    await balancer?.close();
    await upstream?.close();
    await postgres?.stop();
  });

  it('the SDK client completes discovery, registration, authorization, exchange, refresh and tool calls, its requests spread over all three', async () => {
    const since = balancer.served.length;
    const provider = new BrowserOAuthProvider({ email: ADA, password: PASSWORD });
    const first = await authorizeWithSdk(provider, serverUrl);
    assert.equal(provider.registrations, 1, 'registered dynamically');
    assert.equal(provider.lastRun?.signedIn, true, 'signed in through the built-in provider');
    assert.equal(provider.lastRun?.consentShown, true, 'asked for consent');
    assert.ok(first.refresh_token, 'a refresh token');

    // With a refresh token and no code, the SDK refreshes (RFC 6749 §6) instead of sending the
    // browser again; the gateway rotates the refresh token.
    const run = provider.lastRun;
    assert.equal(await auth(provider, { serverUrl }), 'AUTHORIZED');
    assert.equal(provider.lastRun, run, 'refreshed, not authorized again');
    const refreshed = provider.tokens();
    assert.ok(refreshed?.refresh_token);
    assert.notEqual(refreshed.access_token, first.access_token);
    assert.notEqual(refreshed.refresh_token, first.refresh_token, 'the refresh token rotated');

    const client = new Client({ name: 'portcullis-replicas-test', version: '0.0.0' });
    await client.connect(
      new StreamableHTTPClientTransport(new URL(serverUrl), { authProvider: provider }),
    );
    assert.deepEqual(
      (await client.listTools()).tools.map((t) => t.name),
      ['hello'],
    );
    for (let i = 0; i < 3; i++) {
      assert.equal(firstText(await client.callTool({ name: 'hello', arguments: {} })), 'hello');
    }
    await client.close();
    assert.equal(provider.tokens(), refreshed, 'the refreshed token did for every call');

    const steps = balancer.served.slice(since);
    console.log(
      'replica per request:',
      steps.map((s) => `${s.backend} ${s.method} ${s.path.split('?')[0]} ${s.status}`).join(', '),
    );
    const counts = balancer.counts(since);
    console.log(`requests per replica: ${counts.join(', ')}`);
    for (const [i, n] of counts.entries()) assert.ok(n > 0, `replica ${i} served nothing`);
    const oauth = steps.filter((s) => s.path.startsWith('/.pomerium/'));
    assert.equal(new Set(oauth.map((s) => s.backend)).size, 3, 'the OAuth steps hopped replicas');
    assert.ok(
      steps.every((s) => s.status < 500),
      'no replica failed a request',
    );
  });

  /** The public Host, which every request to a replica directly must carry. */
  const publicHost = () => new URL(balancer.origin).host;

  /** A tools/list with `token` to replica `r` alone. */
  const listOn = (r: Replica, token: string): Promise<Sent> =>
    mcpPost(
      r.direct,
      '/mcp',
      { jsonrpc: '2.0', id: 1, method: 'tools/list' },
      { headers: { host: publicHost(), authorization: `Bearer ${token}` } },
    );

  /** Whether replica `r` refuses `token` (401); anything but 200 or 401 fails the test. */
  const refuses = async (r: Replica, token: string) => {
    const res = await listOn(r, token);
    if (res.status === 401) return true;
    assert.equal(res.status, 200, `replica ${r.index}: ${res.body}`);
    return false;
  };

  /** The SDK's flow through the balancer, in browser `jar`; the token used on every replica. */
  async function authorizedEverywhere(jar: CookieJar) {
    const provider = new BrowserOAuthProvider({ email: ADA, password: PASSWORD, jar });
    const tokens = await authorizeWithSdk(provider, serverUrl);
    const clientId = provider.clientInformation()?.client_id ?? '';
    // Twice on each, so each has the token (and its grant and session) cached.
    for (const r of [...replicas.list, ...replicas.list]) {
      assert.equal(await refuses(r, tokens.access_token), false);
    }
    return { token: tokens.access_token, clientId };
  }

  /** Waits until every replica but `on` refuses what `refused` checks; prints each lag. */
  async function seenByOthers(
    on: Replica,
    what: string,
    refused: (r: Replica) => Promise<boolean>,
  ) {
    const since = performance.now();
    const others = replicas.list.filter((r) => r !== on);
    const lags = await Promise.all(
      others.map((r) => lagUntil(() => refused(r), since, `${what}, replica ${r.index}`)),
    );
    const report = others.map((r, i) => `replica ${r.index} ${lags[i]?.toFixed(0)} ms`);
    console.log(`${what} on replica ${on.index}, refused on ${report.join(', ')}`);
    // Issue 12: every replica's caches within one second (without the bus: their 5 s life).
    for (const lag of lags) assert.ok(lag < 1_000, `${what}: ${lag.toFixed(0)} ms`);
  }

  it('a token revoked through one replica (RFC 7009) is refused on the other two', async () => {
    const { token, clientId } = await authorizedEverywhere(new CookieJar());
    const [on] = replicas.list as [Replica];
    const revoked = await send(on.direct, {
      method: 'POST',
      path: '/.pomerium/mcp/revoke',
      headers: { host: publicHost(), 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        token,
        token_type_hint: 'access_token',
        client_id: clientId,
      }).toString(),
    });
    assert.equal(revoked.status, 200, revoked.body);
    assert.equal(await refuses(on, token), true, 'refused at once where it was revoked');
    await seenByOthers(on, 'revocation', (r) => refuses(r, token));
  });

  it('a sign-out on one replica ends the session and its tokens on all', async () => {
    const jar = new CookieJar();
    const { token } = await authorizedEverywhere(jar);
    const session = jar.get('localhost', SESSION_COOKIE);
    assert.ok(session, 'signed in');
    const user = (r: Replica) =>
      send(r.direct, {
        path: '/.pomerium/user',
        headers: { host: publicHost(), cookie: `${SESSION_COOKIE}=${session.value}` },
      });
    for (const r of replicas.list) assert.equal((await user(r)).status, 200);
    const on = replicas.list[1] as Replica;
    const out = await send(on.direct, {
      method: 'POST',
      path: '/.pomerium/sign_out',
      headers: {
        host: publicHost(),
        origin: balancer.origin,
        cookie: `${SESSION_COOKIE}=${session.value}`,
      },
    });
    assert.equal(out.status, 302, out.body);
    await seenByOthers(on, 'sign-out', async (r) => {
      const signedIn = await user(r);
      assert.ok([200, 401].includes(signedIn.status), signedIn.body);
      return signedIn.status === 401 && (await refuses(r, token));
    });
  });

  it('a replica killed (SIGKILL) in the middle of an authorization: the flow completes on the others', async () => {
    let victim: Replica | undefined;
    let since = 0;
    const provider = new InterruptedBrowserProvider(
      { email: ADA, password: PASSWORD, jar: new CookieJar() },
      async (page) => {
        assert.match(page.pathname, /^\/\.pomerium\/idp\/interaction\//, 'at sign-in');
        // The replica that took the authorization request dies; the balancer finds it gone.
        const authorize = balancer.served.findLast((s) =>
          s.path.startsWith('/.pomerium/mcp/authorize'),
        );
        victim = replicas.list[authorize?.backend ?? 0];
        assert.equal(await victim?.kill('SIGKILL'), 'SIGKILL');
        since = balancer.served.length;
      },
    );
    const tokens = await authorizeWithSdk(provider, serverUrl);
    assert.ok(victim, 'interrupted');
    assert.equal(provider.lastRun?.signedIn, true);
    assert.equal(provider.lastRun?.consentShown, true);
    const client = new Client({ name: 'portcullis-replicas-test', version: '0.0.0' });
    await client.connect(
      new StreamableHTTPClientTransport(new URL(serverUrl), { authProvider: provider }),
    );
    assert.equal(firstText(await client.callTool({ name: 'hello', arguments: {} })), 'hello');
    await client.close();
    const counts = balancer.counts(since);
    console.log(
      `after replica ${victim.index} was killed, requests per replica: ${counts.join(', ')}`,
    );
    assert.equal(counts[victim.index], 0);
    assert.equal(counts.filter((n) => n > 0).length, 2, 'both others served the rest');

    // Started again, it serves the token issued while it was down.
    await victim.restart();
    assert.equal(await refuses(victim, tokens.access_token), false);
    const ready = await send(victim.direct, { path: '/readyz', headers: { host: publicHost() } });
    assert.equal(ready.status, 200);
  });
});
