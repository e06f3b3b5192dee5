/**
 * Issue 12: an upstream token refresh is single-flight across replicas. Three upstream services
 * (the gateway's own, as each replica builds it), each on its own connection pool to one real
 * PostgreSQL, share a user's expired upstream token; a real token endpoint with rotating
 * refresh tokens counts the refreshes. 50 concurrent `credentials` calls spread over the three
 * cause one refresh and all get its token; a replica that took the lease and died blocks the
 * others only until the lease runs out. Without the lease each replica refreshes, and the
 * provider refuses all but the first (the rotated refresh token sent again).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { parseConfig } from '../src/config/load.js';
import type { RouteConfig } from '../src/config/types.js';
import { openPostgresStorage } from '../src/storage/postgres.js';
import type { Storage } from '../src/storage/types.js';
import { tokenKey } from '../src/upstream/catalog.js';
import { leaseName } from '../src/upstream/refresh-lease.js';
import { UpstreamService } from '../src/upstream/service.js';
import { flightKey } from '../src/upstream/vault.js';
import { gatewayYamlHead, TEST_SHARED_SECRET } from './support/gateway.js';
import { silentLogger } from './support/host.js';
import { startPostgres, type TestPostgres } from './support/postgres.js';
import { startRefreshEndpoint, type RefreshEndpoint } from './support/refresh-endpoint.js';

const LEASE_MS = 1_000;

describe('upstream token refresh across three replicas on one PostgreSQL', () => {
  let postgres: TestPostgres;
  let endpoint: RefreshEndpoint;
  let route: RouteConfig;
  const storages: Storage[] = [];
  const replicas: UpstreamService[] = [];
  /** Every replica's clock: moved ahead to make the stored token due. */
  let skew = 0;

  before(async () => {
    postgres = await startPostgres();
    endpoint = await startRefreshEndpoint();
    const database = await postgres.createDatabase('refresh');
    const { config } = parseConfig(
      `
${gatewayYamlHead(1)}
routes:
  - from: https://gw.example
    prefix: /notes
    to: http://127.0.0.1:9
    allow_any_authenticated_user: true
    mcp:
      server:
        upstream_oauth2:
          client_id: ${endpoint.clientId}
          client_secret: ${endpoint.clientSecret}
          endpoint:
            auth_url: https://provider.example/authorize
            token_url: ${endpoint.tokenUrl}
            auth_style: header
`,
      'refresh-test.yaml',
      {},
    );
    route = config.routes[0]!;
    for (let i = 0; i < 3; i++) {
      const storage = await openPostgresStorage(database);
      storages.push(storage);
      replicas.push(
        new UpstreamService({
          routes: config.routes,
          storage,
          sharedSecret: TEST_SHARED_SECRET,
          logger: silentLogger,
          discovery: { allowedAsDomains: [], fetch: { allowPrivateHosts: [] } },
          now: () => Date.now() + skew,
          refreshLeaseMs: LEASE_MS,
        }),
      );
    }
  });
  after(async () => {
    await Promise.all(storages.map((s) => s.close()));
    await endpoint?.close();
    await postgres?.stop();
  });

  /** Stores an access token about to expire for `sub`, as a code exchange would have. */
  async function connectExpiring(sub: string, refreshToken: string) {
    endpoint.issue(refreshToken);
    const entry = replicas[0]!.entryFor(route)!;
    await replicas[0]!.vault.save(tokenKey(entry, sub), {
      accessToken: 'expiring',
      refreshToken,
      expiresIn: 5,
      scopes: ['read'],
    });
    skew += 10_000;
  }

  async function fiftyCalls(sub: string) {
    const calls = Array.from({ length: 50 }, (_, i) => replicas[i % 3]!.credentials(route, sub));
    return Promise.all(calls);
  }

  it('50 concurrent calls with an expired token: one refresh, all get the new token', async () => {
    await connectExpiring('ada', 'first-refresh');
    const before = endpoint.refreshes;
    const results = await fiftyCalls('ada');
    assert.equal(endpoint.refreshes - before, 1, 'one refresh at the provider');
    assert.equal(endpoint.refused, 0, 'nobody sent the rotated refresh token again');
    const tokens = new Set(results.map((r) => (r.kind === 'token' ? r.accessToken : r.kind)));
    assert.deepEqual([...tokens], [`access-${endpoint.refreshes}`]);
    const entry = replicas[0]!.entryFor(route)!;
    const name = leaseName(flightKey(tokenKey(entry, 'ada')));
    const probe = await storages[1]!.leases.acquire(name, 'probe', 1000, Date.now() + skew);
    assert.ok(probe, 'the lease was released after the write');
    await storages[1]!.leases.release(name, 'probe');
  });

  it('a replica that took the lease and died: the others refresh once it runs out', async () => {
    await connectExpiring('grace', 'second-refresh');
    const entry = replicas[0]!.entryFor(route)!;
    const name = leaseName(flightKey(tokenKey(entry, 'grace')));
    assert.ok(await storages[2]!.leases.acquire(name, 'dead-replica', LEASE_MS, Date.now() + skew));
    const before = endpoint.refreshes;
    const started = Date.now();
    const results = await fiftyCalls('grace');
    const waited = Date.now() - started;
    assert.equal(endpoint.refreshes - before, 1, 'one refresh, after the lease ran out');
    assert.equal(endpoint.refused, 0);
    assert.ok(waited >= LEASE_MS * 0.8, `waited ${waited} ms for the dead holder's lease`);
    assert.ok(waited < LEASE_MS + 5_000, `and not much longer (${waited} ms)`);
    const tokens = new Set(results.map((r) => (r.kind === 'token' ? r.accessToken : r.kind)));
    assert.deepEqual([...tokens], [`access-${endpoint.refreshes}`]);
  });
});
