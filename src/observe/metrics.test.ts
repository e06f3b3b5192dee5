import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createMetrics } from './metrics.js';
import type { RequestDone } from './observer.js';

const DURATION_BUCKETS = [
  0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30,
];

/** The value of the sample `name{labels}` in `text` (NaN when absent). */
function sample(text: string, name: string, labels: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${name}{${labels}} `));
  return Number(line?.split(' ')[1]);
}

const done = (route: string, durationMs: number, status = 200): RequestDone => ({
  requestId: 'r',
  route,
  mcpMethod: 'tools/call',
  tool: 'get_weather',
  status,
  startedAt: 0,
  durationMs,
});

test('after N requests a scrape shows exactly N: counter, histogram buckets, sum and count', async () => {
  const { registry, observer } = createMetrics(['DB']);
  const durations = Array.from({ length: 5000 }, (_, i) => ((i * 7919) % 40_000) / 1000);
  durations.push(1, 2.5, 30_000); // 1 and 2.5 ms: on the first two bounds; 30 s: above the last
  for (const ms of durations) observer.requestDone(done('DB', ms));
  const text = await registry.metrics();
  const n = durations.length;
  const labels = 'route="DB",mcp_method="tools/call"';
  assert.equal(
    sample(text, 'portcullis_requests_total', `route="DB",status="200",mcp_method="tools/call"`),
    n,
  );
  const duration = 'portcullis_request_duration_seconds';
  for (const le of DURATION_BUCKETS) {
    const expected = durations.filter((ms) => ms / 1000 <= le).length;
    assert.equal(sample(text, `${duration}_bucket`, `le="${le}",${labels}`), expected, `le=${le}`);
  }
  assert.equal(sample(text, `${duration}_bucket`, `le="+Inf",${labels}`), n);
  assert.equal(sample(text, `${duration}_count`, labels), n);
  const sum = durations.reduce((s, ms) => s + ms / 1000, 0);
  assert.equal(sample(text, `${duration}_sum`, labels), sum);
});

test('a route named "other" and the unknown routes are one series, written once', async () => {
  const { registry, observer } = createMetrics(['other', 'DB', 'DB']);
  observer.requestDone(done('other', 1));
  observer.requestDone(done('not-in-the-config', 1));
  observer.decision({ route: 'nope', allow: true, rule: 'policy[0]' });
  observer.decision({ route: 'other', allow: true, rule: 'policy[0]' });
  observer.upstreamError('nope', 'ERR_UPSTREAM_UNAVAILABLE');
  const text = await registry.metrics();
  const lines = (prefix: string) => text.split('\n').filter((l) => l.startsWith(prefix));
  assert.deepEqual(lines('portcullis_requests_total{'), [
    'portcullis_requests_total{route="other",status="200",mcp_method="tools/call"} 2',
  ]);
  assert.deepEqual(lines('portcullis_request_duration_seconds_count{'), [
    'portcullis_request_duration_seconds_count{route="other",mcp_method="tools/call"} 2',
  ]);
  assert.deepEqual(lines('portcullis_policy_decisions_total{'), [
    'portcullis_policy_decisions_total{route="other",outcome="allow"} 2',
  ]);
  assert.deepEqual(lines('portcullis_upstream_errors_total{'), [
    'portcullis_upstream_errors_total{route="other",kind="unavailable"} 1',
  ]);
});

test('help and type lines stay as documented; a registry reset starts the counts again', async () => {
  const { registry, observer } = createMetrics(['DB']);
  observer.requestDone(done('DB', 3, 404));
  observer.tokenValidation('invalid');
  observer.tokenRefresh('refused');
  observer.storageLatency('oauth_find', 0.3);
  const text = await registry.metrics();
  for (const [name, type] of [
    ['portcullis_requests_total', 'counter'],
    ['portcullis_request_duration_seconds', 'histogram'],
    ['portcullis_policy_decisions_total', 'counter'],
    ['portcullis_token_validations_total', 'counter'],
    ['portcullis_upstream_token_refreshes_total', 'counter'],
    ['portcullis_upstream_errors_total', 'counter'],
    ['portcullis_storage_operation_duration_seconds', 'histogram'],
  ]) {
    assert.match(text, new RegExp(`^# HELP ${name} \\S`, 'm'), name);
    assert.match(text, new RegExp(`^# TYPE ${name} ${type}$`, 'm'), name);
  }
  assert.equal(sample(text, 'portcullis_token_validations_total', 'outcome="invalid"'), 1);
  assert.equal(sample(text, 'portcullis_upstream_token_refreshes_total', 'outcome="refused"'), 1);
  assert.equal(
    sample(
      text,
      'portcullis_storage_operation_duration_seconds_bucket',
      'le="0.0005",op="oauth_find"',
    ),
    1,
  );
  registry.resetMetrics();
  assert.doesNotMatch(await registry.metrics(), /^portcullis_requests_total\{/m);
  observer.requestDone(done('DB', 3, 404));
  const after = await registry.metrics();
  assert.equal(
    sample(after, 'portcullis_requests_total', 'route="DB",status="404",mcp_method="tools/call"'),
    1,
  );
  assert.doesNotMatch(after, /^portcullis_token_validations_total\{/m);
});
