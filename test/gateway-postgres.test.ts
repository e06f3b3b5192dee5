/**
 * Two gateway replicas on one PostgreSQL database (a real server, started here): a session made
 * on one is honoured by the other, a sign-out on one ends it on both, and both sign identity
 * assertions with the one key kept in storage.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createAssertionVerifier } from '../src/assertion/verify.js';
import { hashPassword } from '../src/core/crypto.js';
import {
  cookie,
  gatewayYamlHead,
  mcpPost,
  send,
  signIn,
  startTestGateway,
  toolCall,
  type TestGateway,
} from './support/gateway.js';
import { startJsonRpcUpstream, type JsonRpcUpstream } from './support/jsonrpc-upstream.js';
import { startPostgres, type TestPostgres } from './support/postgres.js';

const PASSWORD = 'gateway-postgres-password';
const ADA = 'ada@example.com';

function configYaml(port: number, database: string, upstream: string, hash: string): string {
  return `
${gatewayYamlHead(port)}
databroker_storage_type: postgres
databroker_storage_connection_string: ${database}
builtin_users:
  - { email: ${ADA}, name: Ada Admin, groups: [admins], password_hash: '${hash}' }
routes:
  - from: http://localhost:${port}
    prefix: /mcp
    to: ${upstream}/mcp
    pass_identity_headers: true
    policy:
      - allow: { and: [{ domain: { is: example.com } }] }
    mcp: { server: {} }
`;
}

/** `GET /.pomerium/user` with the session cookie: 200 while the session lives, else 401. */
const whoAmI = (gw: TestGateway, session: string) =>
  send(gw.origin, { path: '/.pomerium/user', headers: cookie(session) });

describe('two gateways on one PostgreSQL database', () => {
  let postgres: TestPostgres;
  let database = '';
  let upstream: JsonRpcUpstream;
  let a: TestGateway;
  let b: TestGateway;

  before(async () => {
    [postgres, upstream] = await Promise.all([startPostgres(), startJsonRpcUpstream()]);
    database = await postgres.createDatabase('gateways');
    const hash = await hashPassword(PASSWORD);
    // One after the other, as a rolling start: B finds the signing key A stored.
    a = await startTestGateway((port) => configYaml(port, database, upstream.url, hash));
    b = await startTestGateway((port) => configYaml(port, database, upstream.url, hash));
  });
  after(async () => {
    await a?.close();
    await b?.close();
    await upstream?.close();
    await postgres?.stop();
  });

  it('a session made on A works on B; signed out on A, it is refused on B', async () => {
    assert.equal(a.gateway.storage.kind, 'postgres');
    const session = await signIn(a.origin, ADA, PASSWORD);
    const onB = await whoAmI(b, session);
    assert.equal(onB.status, 200, onB.body);
    assert.equal((JSON.parse(onB.body) as { email: string }).email, ADA);
    const call = await mcpPost(b.origin, '/mcp', toolCall(1, 'read'), { session });
    assert.equal(call.status, 200, call.body);

    const out = await send(a.origin, {
      method: 'POST',
      path: '/.pomerium/sign_out',
      headers: { ...cookie(session), origin: a.origin },
    });
    assert.equal(out.status, 302);
    assert.equal((await whoAmI(b, session)).status, 401);
    const refused = await mcpPost(b.origin, '/mcp', toolCall(2, 'read'), { session });
    assert.equal(refused.status, 401, refused.body);
  });

  it('an assertion signed by B verifies against the keys A publishes', async () => {
    const session = await signIn(a.origin, ADA, PASSWORD);
    upstream.reset();
    const res = await mcpPost(b.origin, '/mcp', toolCall(3, 'read'), { session });
    assert.equal(res.status, 200, res.body);
    const assertion = upstream.requests[0]?.headers['x-pomerium-jwt-assertion'];
    assert.ok(typeof assertion === 'string', 'B forwarded an identity assertion');
    const verify = createAssertionVerifier({
      jwksUrl: new URL('/.well-known/pomerium/jwks.json', a.origin),
      issuers: ['localhost'],
      audience: 'localhost',
    });
    const identity = await verify(assertion);
    assert.equal(identity.email, ADA);
    assert.deepEqual(identity.groups, ['admins']);

    const jwks = async (gw: TestGateway) =>
      JSON.parse((await send(gw.origin, { path: '/.well-known/pomerium/jwks.json' })).body) as {
        keys: { kid: string }[];
      };
    const [fromA, fromB] = await Promise.all([jwks(a), jwks(b)]);
    assert.equal(fromA.keys.length, 1, 'one key, stored once, for both');
    assert.deepEqual(fromB, fromA);
  });
});
