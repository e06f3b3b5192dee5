import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import { basicAuthCheck, startMetrics } from './metrics-server.js';
import { createMetrics, mcpMethodLabel, statusLabel } from './metrics.js';

const CREDENTIALS = Buffer.from('scraper:correct horse').toString('base64');
const silent = pino({ level: 'silent' });
const basic = (userPass: string) => `Basic ${Buffer.from(userPass).toString('base64')}`;

test('basic auth: only the configured user and password pass', () => {
  const check = basicAuthCheck(CREDENTIALS);
  assert.equal(check(basic('scraper:correct horse')), true);
  assert.equal(check(`basic  ${CREDENTIALS}`), true, 'the scheme is case-insensitive');
  for (const wrong of [
    undefined,
    '',
    basic('scraper:wrong'),
    basic('scraper:correct horse!'),
    basic('other:correct horse'),
    `Bearer ${CREDENTIALS}`,
    'Basic',
    'Basic !!!',
  ]) {
    assert.equal(check(wrong), false, String(wrong));
  }
  assert.equal(basicAuthCheck(null)(undefined), true, 'without metrics_basic_auth: open');
});

test('the listener: 401 with a Basic challenge without credentials, then GET /metrics only', async () => {
  const metrics = await startMetrics(
    {
      address: { host: '127.0.0.1', port: 0 },
      at: { file: 'test', line: 1, key: 'metrics_address' },
      basicAuth: CREDENTIALS,
    },
    ['DB'],
    silent,
  );
  try {
    const get = (path: string, init: RequestInit = {}) => fetch(`${metrics.url}${path}`, init);
    const wrong: Record<string, string>[] = [{}, { authorization: basic('scraper:nope') }];
    for (const headers of wrong) {
      const refused = await get('/metrics', { headers });
      assert.equal(refused.status, 401);
      assert.match(refused.headers.get('www-authenticate') ?? '', /^Basic realm="metrics"/);
      assert.equal(await refused.text(), '');
    }
    const authorization = basic('scraper:correct horse');
    metrics.observer.tokenValidation('valid');
    const ok = await get('/metrics', { headers: { authorization } });
    assert.equal(ok.status, 200);
    assert.match(ok.headers.get('content-type') ?? '', /^text\/plain/);
    const text = await ok.text();
    assert.match(text, /^portcullis_token_validations_total\{outcome="valid"\} 1$/m);
    assert.match(text, /^portcullis_process_cpu_seconds_total /m, 'Node process metrics');
    assert.equal((await get('/other', { headers: { authorization } })).status, 404);
    const post = await get('/metrics', { method: 'POST', headers: { authorization } });
    assert.equal(post.status, 405);
    assert.equal(post.headers.get('allow'), 'GET');
  } finally {
    await metrics.close();
  }
});

test('labels are bounded: unknown routes and methods are "other", statuses numbers', async () => {
  const { registry, observer } = createMetrics(['DB']);
  const done = { requestId: 'r', tool: null, startedAt: 0, durationMs: 3 };
  observer.requestDone({ ...done, route: 'DB', mcpMethod: 'tools/call', status: 200 });
  observer.requestDone({ ...done, route: 'DB', mcpMethod: 'x/'.repeat(40), status: 200 });
  observer.requestDone({ ...done, route: 'not-a-route', mcpMethod: null, status: 404 });
  observer.requestDone({ ...done, route: 'DB', mcpMethod: 'batch', status: 0 });
  observer.decision({ route: 'DB', allow: false, rule: 'policy[1]' });
  observer.upstreamError('DB', 'ERR_UPSTREAM_TIMEOUT');
  observer.storageLatency('whatever-the-caller-says', 2);
  const text = await registry.metrics();
  const lines = text.split('\n').filter((l) => l.startsWith('portcullis_requests_total{'));
  assert.deepEqual(lines.sort(), [
    'portcullis_requests_total{route="DB",status="0",mcp_method="batch"} 1',
    'portcullis_requests_total{route="DB",status="200",mcp_method="other"} 1',
    'portcullis_requests_total{route="DB",status="200",mcp_method="tools/call"} 1',
    'portcullis_requests_total{route="other",status="404",mcp_method="none"} 1',
  ]);
  assert.match(text, /^portcullis_policy_decisions_total\{route="DB",outcome="deny"\} 1$/m);
  assert.match(text, /^portcullis_upstream_errors_total\{route="DB",kind="timeout"\} 1$/m);
  assert.match(text, /^portcullis_storage_operation_duration_seconds_count\{op="other"\} 1$/m);
  assert.match(
    text,
    /^portcullis_request_duration_seconds_bucket\{le="0.005",route="DB",mcp_method="tools\/call"\} 1$/m,
  );
  assert.equal(mcpMethodLabel('initialize'), 'initialize');
  assert.equal(statusLabel(1234), '0');
});

test('each gateway has its own registry, not the process-global one', async () => {
  const a = createMetrics(['DB']);
  const b = createMetrics(['DB']);
  a.observer.tokenRefresh('ok');
  assert.match(await a.registry.metrics(), /upstream_token_refreshes_total\{outcome="ok"\} 1/);
  assert.doesNotMatch(await b.registry.metrics(), /upstream_token_refreshes_total\{outcome/);
});
