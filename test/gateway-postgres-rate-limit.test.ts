/**
 * Issue 12: the `/register` and `/token` rate limits are shared by the replicas on one
 * PostgreSQL. Two gateways, one public origin (as behind a load balancer), requests from one
 * client address alternating between them: together they allow the budget of one, then answer
 * 429 `temporarily_unavailable` with `Retry-After`; another address keeps its own budget.
 * Without the shared count each replica would allow the whole budget (twice in all).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { parseConfig } from '../src/config/load.js';
import { startGateway, type Gateway } from '../src/http/gateway.js';
import { captureLogs, freePort, gatewayYamlHead, send, type Sent } from './support/gateway.js';
import { publicClient } from './support/oauth-flow.js';
import { startPostgres, type TestPostgres } from './support/postgres.js';

const BUDGET = 5;
/** An hour: the test never straddles a window's edge in practice. */
const WINDOW_MS = 3_600_000;

describe('rate limits shared by two gateways on one PostgreSQL', () => {
  let postgres: TestPostgres;
  const gateways: { gateway: Gateway; origin: string }[] = [];
  let publicHost = '';

  before(async () => {
    postgres = await startPostgres();
    const database = await postgres.createDatabase('ratelimit');
    const publicPort = await freePort();
    publicHost = `localhost:${publicPort}`;
    for (const port of [publicPort, await freePort()]) {
      const yaml = `
${gatewayYamlHead(port)}
databroker_storage_type: postgres
databroker_storage_connection_string: ${database}
routes:
  - from: http://${publicHost}
    prefix: /mcp
    to: http://127.0.0.1:9/mcp
    allow_any_authenticated_user: true
    mcp: { server: {} }
`;
      const { config } = parseConfig(yaml, 'rate-limit-test.yaml', {});
      const limit = { max: BUDGET, windowMs: WINDOW_MS };
      const gateway = await startGateway({
        config,
        logger: captureLogs().logger,
        oauth: { rateLimits: { register: limit, token: limit } },
      });
      gateways.push({ gateway, origin: `http://127.0.0.1:${port}` });
    }
  });
  after(async () => {
    for (const { gateway } of gateways) await gateway.close();
    await postgres?.stop();
  });

  /** `count` POSTs to `path`, alternating between the gateways, one after another. */
  async function alternate(path: string, count: number, type: string, body: string, from?: string) {
    const answers: Sent[] = [];
    for (let i = 0; i < count; i++) {
      answers.push(
        await send(gateways[i % 2]!.origin, {
          method: 'POST',
          path,
          headers: { host: publicHost, 'content-type': type },
          body,
          ...(from ? { localAddress: from } : {}),
        }),
      );
    }
    return answers;
  }

  function assertLimited(answers: readonly Sent[], allowed: (s: Sent) => boolean) {
    assert.ok(answers.slice(0, BUDGET).every(allowed), answers.map((a) => a.status).join());
    for (const denied of answers.slice(BUDGET)) {
      assert.equal(denied.status, 429, denied.body);
      assert.equal(JSON.parse(denied.body).error, 'temporarily_unavailable');
      assert.ok(Number(denied.headers['retry-after']) >= 1, 'Retry-After');
    }
  }

  it('/register: two replicas allow one budget between them', async () => {
    const metadata = JSON.stringify(publicClient());
    const answers = await alternate('/register', BUDGET + 3, 'application/json', metadata);
    assertLimited(answers, (a) => a.status === 201);
    const other = await alternate('/register', 2, 'application/json', metadata, '127.0.0.2');
    assert.deepEqual(
      other.map((a) => a.status),
      [201, 201],
      'another address has its own budget',
    );
  });

  it('/token: the same', async () => {
    const form = 'grant_type=authorization_code&code=nonsense&client_id=nobody';
    const type = 'application/x-www-form-urlencoded';
    const answers = await alternate('/token', BUDGET + 3, type, form);
    assertLimited(answers, (a) => a.status !== 429);
  });
});
