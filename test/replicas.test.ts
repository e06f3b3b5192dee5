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
import { gatewayYamlHead } from './support/gateway.js';
import { firstText } from './support/mcp-client.js';
import { authorizeWithSdk, BrowserOAuthProvider } from './support/oauth-client.js';
import { startPostgres, type TestPostgres } from './support/postgres.js';
import {
  startRecordingMcpServer,
  type RecordingMcpServer,
} from './support/recording-mcp-server.js';
import {
  startReplicas,
  startRoundRobin,
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
});
