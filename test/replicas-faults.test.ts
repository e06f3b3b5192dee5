/**
 * PostgreSQL stopped and started again under a steady bounded load on a gateway process (issue
 * 12, "Faults"): while it is down, requests that need storage are answered 503 with
 * `Retry-After` at once (no hang, no 500), requests that need none keep working, `/readyz` says
 * 503 and `/healthz` 200, and the process stays up; once it is back every request succeeds by
 * itself, with the session and the tokens made before the outage.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { hashPassword } from '../src/core/crypto.js';
import { CookieJar } from './support/cookie-jar.js';
import {
  cookie,
  freePort,
  gatewayYamlHead,
  mcpPost,
  send,
  signIn,
  toolCall,
  type Sent,
} from './support/gateway.js';
import { startJsonRpcUpstream, type JsonRpcUpstream } from './support/jsonrpc-upstream.js';
import {
  authorizeCode,
  exchange,
  OAUTH_EMAIL,
  OAUTH_PASSWORD,
  publicClient,
  register,
  tokenRequest,
  type FlowGateway,
} from './support/oauth-flow.js';
import { startPostgres, type TestPostgres } from './support/postgres.js';
import { spawnGateway, type GatewayProcess } from './support/gateway-process.js';

/** Long enough for any bearer-token cache entry (5 s) to expire while the database is down. */
const OUTAGE_MS = 6_000;
/** The most a storage-bound request may take while the database is down. */
const FAIL_FAST_MS = 2_500;
/** The most the gateway may take to serve everything again once the database is back. */
const RECOVERY_CAP_MS = 15_000;
/** The load: this many loops, each sending its next request this long after an answer. */
const LOOPS = 4;
const GAP_MS = 10;

type Kind = 'public' | 'bearer' | 'cookie' | 'readyz';
const KINDS: readonly Kind[] = ['public', 'bearer', 'cookie', 'readyz'];

interface Sample {
  readonly kind: Kind;
  readonly start: number;
  readonly end: number;
  /** 0: no answer (the request failed or hung past its cap). */
  readonly status: number;
  readonly retryAfter: string | undefined;
  readonly body: string;
}

function configYaml(
  port: number,
  metricsPort: number,
  database: string,
  upstream: string,
  hash: string,
): string {
  return `
${gatewayYamlHead(port)}
metrics_address: 127.0.0.1:${metricsPort}
databroker_storage_type: postgres
databroker_storage_connection_string: ${database}?connect_timeout=2&statement_timeout=1500
builtin_users:
  - { email: ${OAUTH_EMAIL}, name: Ada, groups: [admins], password_hash: '${hash}' }
routes:
  - from: http://localhost:${port}
    prefix: /public
    to: ${upstream}/public
    allow_public_unauthenticated_access: true
  - from: http://localhost:${port}
    prefix: /mcp
    to: ${upstream}/mcp
    allow_any_authenticated_user: true
    mcp: { server: {} }
`;
}

describe('PostgreSQL restarting under load', () => {
  let postgres: TestPostgres;
  let upstream: JsonRpcUpstream;
  let gw: GatewayProcess;
  let origin = '';
  let session = '';
  let accessToken = '';
  let refreshToken = '';
  let clientId = '';
  let metricsPort = 0;

  before(async () => {
    [postgres, upstream] = await Promise.all([startPostgres(), startJsonRpcUpstream()]);
    const database = await postgres.createDatabase('faults');
    const port = await freePort();
    metricsPort = await freePort();
    origin = `http://localhost:${port}`;
    const hash = await hashPassword(OAUTH_PASSWORD);
    gw = await spawnGateway(configYaml(port, metricsPort, database, upstream.url, hash), {});
    session = await signIn(origin, OAUTH_EMAIL, OAUTH_PASSWORD);
    const flow: FlowGateway = { origin, jar: new CookieJar(), resource: () => `${origin}/mcp` };
    const code = await authorizeCode(flow, { resource: `${origin}/mcp` });
    const tokens = await exchange(flow, code, `${origin}/mcp`);
    assert.equal(tokens.status, 200, JSON.stringify(tokens.body));
    accessToken = String(tokens.body.access_token);
    refreshToken = String(tokens.body.refresh_token);
    clientId = code.clientId;
  });
  after(async () => {
    await gw?.stop();
    await upstream?.close();
    await postgres?.stop();
  });

  /** One request of `kind`, capped well past what an answer may take, so a hang shows. */
  async function request(kind: Kind, id: number): Promise<Sample> {
    const start = Date.now();
    const signal = AbortSignal.timeout(10_000);
    let res: Sent | undefined;
    try {
      res =
        kind === 'public'
          ? await mcpPost(origin, '/public', toolCall(id, 'echo'), { signal })
          : kind === 'bearer'
            ? await mcpPost(origin, '/mcp', toolCall(id, 'read'), {
                signal,
                headers: { authorization: `Bearer ${accessToken}` },
              })
            : kind === 'cookie'
              ? await mcpPost(origin, '/mcp', toolCall(id, 'read'), { signal, session })
              : await send(origin, { path: '/readyz', signal });
    } catch {
      res = undefined;
    }
    const retryAfter = res?.headers['retry-after'];
    return {
      kind,
      start,
      end: Date.now(),
      status: res?.status ?? 0,
      retryAfter: typeof retryAfter === 'string' ? retryAfter : undefined,
      body: res?.body ?? '',
    };
  }

  it('fails fast with 503 while the database is down, and recovers by itself', async () => {
    const pid = gw.child.pid;
    const samples: Sample[] = [];
    let running = true;
    let id = 0;
    const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
    const loops = Array.from({ length: LOOPS }, async (_, loop) => {
      for (let i = loop; running; i++) {
        samples.push(await request(KINDS[i % KINDS.length]!, ++id));
        await pause(GAP_MS);
      }
    });

    await pause(1_500);
    const haltStart = Date.now();
    await postgres.halt();
    const down = Date.now();
    // One of each shape while it is down: the token endpoint (oidc-provider), a JSON endpoint.
    await pause(500);
    const refresh = await tokenRequest(origin, {
      grant_type: 'refresh_token',
      refresh_token: refreshToken,
      client_id: clientId,
    });
    const userInfo = await send(origin, { path: '/.pomerium/user', headers: cookie(session) });
    const health = await send(origin, { path: '/healthz' });
    const portal = await send(origin, {
      path: '/',
      headers: { ...cookie(session), accept: 'text/html' },
    });
    const registration = await register(origin, publicClient());
    await pause(OUTAGE_MS - (Date.now() - down));
    const resumeStart = Date.now();
    await postgres.resume();
    const up = Date.now();

    // Recovered: a whole round of every kind answered 200, in the samples after `up`.
    let recovered = 0;
    for (const cap = up + RECOVERY_CAP_MS; recovered === 0 && Date.now() < cap;) {
      await pause(100);
      const late = samples.filter((s) => s.start >= up);
      const firstOk = KINDS.map((k) => late.find((s) => s.kind === k && s.status === 200)?.end);
      if (firstOk.every((t) => t !== undefined)) recovered = Math.max(...(firstOk as number[]));
    }
    await pause(1_500);
    running = false;
    await Promise.all(loops);

    const before = samples.filter((s) => s.end < haltStart);
    const during = samples.filter((s) => s.start >= down && s.end < resumeStart);
    const settled = samples.filter((s) => recovered > 0 && s.start >= recovered);
    const of = (list: Sample[], kind: Kind) => list.filter((s) => s.kind === kind);
    const statuses = (list: Sample[]) => [...new Set(list.map((s) => s.status))].sort();
    const slowest = (list: Sample[]) => Math.max(0, ...list.map((s) => s.end - s.start));

    console.log(
      JSON.stringify({
        requests: samples.length,
        outage_ms: resumeStart - down,
        during: Object.fromEntries(
          KINDS.map((k) => [
            k,
            {
              n: of(during, k).length,
              statuses: statuses(of(during, k)),
              slowest_ms: slowest(of(during, k)),
              '503': of(during, k).filter((s) => s.status === 503).length,
            },
          ]),
        ),
        recovered_after_resume_ms: recovered > 0 ? recovered - up : null,
        after_recovery: { n: settled.length, statuses: statuses(settled) },
        refresh_during: refresh.status,
        register_during: registration.status,
      }),
    );

    // The process never went away.
    assert.equal(gw.child.exitCode, null, gw.output());
    assert.equal(gw.child.signalCode, null);
    assert.equal(gw.child.pid, pid);
    assert.equal(gw.output().split('"msg":"gateway listening"').length - 1, 1, 'one start');

    assert.ok(before.length >= KINDS.length, 'load ran before the outage');
    assert.deepEqual(statuses(before), [200], 'all served before the outage');

    assert.deepEqual(statuses(of(during, 'public')), [200], 'storage-free requests kept working');
    assert.ok(of(during, 'public').length > 0);
    assert.deepEqual(statuses(of(during, 'readyz')), [503]);
    assert.deepEqual(statuses(of(during, 'cookie')), [503], 'session lookups need storage');
    // A checked bearer token is cached for 5 s, but not while the invalidation listener is down
    // (then every check goes to the database): some, if not all, of these get the 503.
    assert.ok(
      of(during, 'bearer').some((s) => s.status === 503),
      'the bearer cache ran out',
    );
    for (const s of during.filter((x) => x.kind !== 'public')) {
      if (s.status === 200 && s.kind === 'bearer') continue;
      assert.equal(s.status, 503, `${s.kind}: ${s.body}`);
      assert.equal(s.retryAfter, '2', s.kind);
      assert.ok(s.end - s.start <= FAIL_FAST_MS, `${s.kind} took ${s.end - s.start} ms`);
    }
    const rpc = JSON.parse(of(during, 'cookie')[0]!.body) as { error: { code: number } };
    assert.equal(rpc.error.code, -32001, 'an MCP route answers a JSON-RPC error');
    // The 503s the dispatcher wrote for the route are counted under it, like any answer.
    const scraped = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
    const counted =
      /^portcullis_requests_total\{route="routes\[1\]",status="503",mcp_method="none"\} (\d+)$/m.exec(
        scraped,
      );
    assert.ok(
      counted,
      scraped
        .split('\n')
        .filter((l) => l.startsWith('portcullis_requests'))
        .join('\n'),
    );
    assert.ok(Number(counted[1]) >= of(during, 'cookie').length, counted[0]);

    assert.equal(refresh.status, 503, JSON.stringify(refresh.body));
    assert.equal(refresh.body.error, 'temporarily_unavailable');
    assert.equal(refresh.headers.get('retry-after'), '2');
    assert.equal(userInfo.status, 503, userInfo.body);
    assert.equal(JSON.parse(userInfo.body).error, 'temporarily_unavailable');
    assert.equal(health.status, 200, 'liveness does not depend on storage');
    assert.equal(portal.status, 503, 'a browser gets a page');
    assert.match(String(portal.headers['content-type']), /^text\/html/);
    assert.match(portal.body, /Temporarily unavailable/);
    assert.equal(portal.headers['retry-after'], '2');
    assert.equal(registration.status, 503, JSON.stringify(registration.body));
    assert.equal(registration.body.error, 'temporarily_unavailable');

    assert.ok(recovered > 0, `not recovered ${RECOVERY_CAP_MS} ms after the database returned`);
    assert.ok(settled.length >= KINDS.length, 'load ran after recovery');
    assert.deepEqual(statuses(settled), [200], 'every request after recovery succeeded');

    // Nothing lost: the refresh token from before the outage still works (it was not used up).
    const refreshed = await tokenRequest(origin, {
      grant_type: 'refresh_token',
      refresh_token: refreshToken,
      client_id: clientId,
    });
    assert.equal(refreshed.status, 200, JSON.stringify(refreshed.body));
    const me = await send(origin, { path: '/.pomerium/user', headers: cookie(session) });
    assert.equal(me.status, 200, me.body);
  });
});
