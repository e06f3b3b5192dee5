/**
 * Issue 12: an upstream token refreshed by one replica only. Three gateway processes on one
 * PostgreSQL behind a round-robin balancer hold a user's token at a real OAuth provider
 * (oidc-provider: 3-second access tokens, rotating refresh tokens); once it is due, 50
 * concurrent tool calls spread over the three cause exactly one refresh at the provider
 * (the storage lease), and every call gets the new token. Without the lease each replica
 * refreshes on its own, and the provider refuses the rotated refresh token the others send.
 */
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { hashPassword } from '../src/core/crypto.js';
import { gatewayYamlHead } from './support/gateway.js';
import { firstText } from './support/mcp-client.js';
import { authorizeWithSdk, BrowserOAuthProvider } from './support/oauth-client.js';
import { startPostgres, type TestPostgres } from './support/postgres.js';
import {
  startReplicas,
  startRoundRobin,
  type Replicas,
  type RoundRobin,
} from './support/replicas.js';
import {
  startTokenCheckingServer,
  type TokenCheckingServer,
} from './support/token-checking-server.js';
import { startUpstreamProvider, type UpstreamProvider } from './support/upstream-provider.js';

const ADA = 'ada@example.com';
const PASSWORD = 'replicas refresh test password';
const TOKEN_LIFE_S = 3;
const SIGNING_KEY = Buffer.from(
  generateKeyPairSync('ec', { namedCurve: 'P-256' })
    .privateKey.export({ type: 'pkcs8', format: 'pem' })
    .toString(),
).toString('base64');

function replicaYaml(port: number, origin: string, database: string, hash: string, p: Setup) {
  return `
${gatewayYamlHead(port)}
signing_key: ${SIGNING_KEY}
databroker_storage_type: postgres
databroker_storage_connection_string: ${database}
builtin_users:
  - { email: ${ADA}, name: Ada, password_hash: '${hash}' }
routes:
  - from: ${origin}
    prefix: /notes
    to: ${p.server.url}
    allow_any_authenticated_user: true
    mcp:
      server:
        upstream_oauth2:
          client_id: ${p.provider.clientId}
          client_secret: ${p.provider.clientSecret}
          scopes: [read]
          endpoint: { auth_url: '${p.provider.authUrl}', token_url: '${p.provider.tokenUrl}' }
`;
}

interface Setup {
  readonly provider: UpstreamProvider;
  readonly server: TokenCheckingServer;
}

describe('an upstream token refreshed once across three replicas', () => {
  let postgres: TestPostgres;
  let balancer: RoundRobin;
  let replicas: Replicas;
  let setup: Setup;

  before(async () => {
    [postgres, balancer] = await Promise.all([startPostgres(), startRoundRobin()]);
    const provider = await startUpstreamProvider({
      redirectUris: [`${balancer.origin}/.pomerium/mcp/client/oauth/callback`],
      accessTokenTtl: TOKEN_LIFE_S,
    });
    const server = await startTokenCheckingServer((t) => provider.introspect(t));
    setup = { provider, server };
    const database = await postgres.createDatabase('replicas_refresh');
    const hash = await hashPassword(PASSWORD);
    replicas = await startReplicas(3, (port) =>
      replicaYaml(port, balancer.origin, database, hash, setup),
    );
    balancer.backends = replicas.list.map((r) => r.port);
  });
  after(async () => {
    await replicas?.close();
    await balancer?.close();
    await setup?.server.close();
    await setup?.provider.close();
    await postgres?.stop();
  });

  it('50 concurrent calls with a due upstream token: one refresh at the provider, all succeed', async () => {
    const { provider } = setup;
    const url = `${balancer.origin}/notes`;
    const oauth = new BrowserOAuthProvider({
      email: ADA,
      password: PASSWORD,
      upstream: { origin: provider.issuer, account: 'ada-at-service', decision: 'allow' },
    });
    await authorizeWithSdk(oauth, url);
    const client = new Client({ name: 'replicas-refresh-test', version: '0.0.0' });
    await client.connect(new StreamableHTTPClientTransport(new URL(url), { authProvider: oauth }));
    const account = async () =>
      JSON.parse(firstText(await client.callTool({ name: 'account', arguments: {} }))) as {
        sub: string;
        active: boolean;
      };
    assert.deepEqual(await account(), { sub: 'ada-at-service', active: true });

    // Past the refresh point (a third of the life left) and past every opened-token cache.
    await new Promise((resolve) => setTimeout(resolve, TOKEN_LIFE_S * 1000 * 0.8));
    const before = { refreshes: provider.refreshes, refused: provider.refusedRefreshes };
    const since = balancer.served.length;
    const results = await Promise.all(Array.from({ length: 50 }, () => account()));
    const counts = balancer.counts(since);
    console.log(`calls per replica: ${counts.join(', ')}`);
    for (const [i, n] of counts.entries()) assert.ok(n >= 10, `replica ${i} served only ${n}`);
    assert.equal(results.filter((r) => r.sub === 'ada-at-service' && r.active).length, 50);
    assert.equal(provider.refreshes, before.refreshes + 1, 'one refresh for 50 calls');
    assert.equal(provider.refusedRefreshes, before.refused, 'no refresh raced a rotated token');
    await client.close();
  });
});
