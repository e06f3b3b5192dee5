import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import { UpstreamTimeoutError } from '../../proxy/errors.js';
import type { ForwardResult } from '../../proxy/forward.js';
import { inspectMcpPost, type McpCall } from '../inspect.js';
import { audit, auditFields, auditRecord } from './audit.js';
import type { CallerRequest } from './context.js';
import { decideCalls } from './decide.js';
import {
  callerRequest,
  incoming,
  jsonRpc,
  matchRoute,
  MCP_HOST,
  routesFrom,
  session,
} from './fixtures.test-suite.js';

const routes = routesFrom(
  [
    '  - from: https://db.example.com',
    '    prefix: /sqlite',
    '    name: DB',
    '    to: http://mcp-servers:8080/sqlite',
    '    policy:',
    '      - allow: {or: [{domain: {is: example.com}}]}',
    '      - deny: {or: [{mcp_tool: {is: update}}]}',
    '    mcp: {server: {}}',
    '  - from: https://db.example.com',
    '    prefix: /strict',
    '    to: http://mcp-servers:8080/strict',
    '    policy:',
    '      - allow: {or: [{groups: {has: admins}}]}',
    '    mcp: {server: {}}',
    '',
  ].join('\n'),
);
const db = matchRoute(routes, MCP_HOST, '/sqlite');
const strict = matchRoute(routes, MCP_HOST, '/strict');

const SECRET_QUERY = 'SELECT * FROM payroll -- s3cr3t-argument-value';
const SECRET_TOKEN = 's3cr3t-upstream-token-value';

/** The calls of a POST body as the pipeline inspects them. */
function callsOf(body: string): readonly McpCall[] {
  const inspected = inspectMcpPost({
    contentType: 'application/json',
    body: Buffer.from(body),
    headers: {},
  });
  assert.ok(inspected.ok);
  return inspected.calls;
}

function ctxOn(match = db): CallerRequest {
  const req = incoming({ method: 'POST', url: match.prefix });
  const ctx = callerRequest(match, req, session());
  return { ...ctx, startedAt: 1_000, client: { id: 'client-42', name: 'Claude' } };
}

const answered: ForwardResult = {
  status: 200,
  upstream: new URL('http://mcp-servers:8080'),
  error: undefined,
  clientClosed: false,
};

test('an allowed tool call: who, which client, where, what decided, how the upstream answered', () => {
  const body = jsonRpc({
    id: 1,
    method: 'tools/call',
    params: { name: 'read_query', arguments: { query: SECRET_QUERY, token: SECRET_TOKEN } },
  });
  const ctx = ctxOn();
  const calls = callsOf(body);
  const verdict = decideCalls(ctx, { calls, responses: 0, batch: false });
  const record = auditRecord(ctx, {
    call: calls[0]!,
    decision: verdict.decisions[0]!,
    forwarded: answered,
    at: 1_012.5,
  });
  assert.deepEqual(record, {
    audit: true,
    req_id: 'req-1',
    route: 'DB',
    user: { sub: 'u-bob', email: 'bob@example.com', groups: ['staff'] },
    client: { id: 'client-42', name: 'Claude' },
    http_method: 'POST',
    mcp_method: 'tools/call',
    tool: 'read_query',
    decision: 'allow',
    rule: 'policy[0]',
    reason: null,
    duration_ms: 12.5,
    upstream_status: 200,
    argument_keys: ['query', 'token'],
  });
  const text = JSON.stringify(record);
  assert.ok(!text.includes('s3cr3t'), `an argument value reached the audit record: ${text}`);
});

test('a denial names the explicit rule, or default-deny when nothing applied', () => {
  const update = callsOf(jsonRpc({ id: 2, method: 'tools/call', params: { name: 'update' } }));
  const ctx = ctxOn();
  const denied = decideCalls(ctx, { calls: update, responses: 0, batch: false });
  const byRule = auditRecord(ctx, {
    call: update[0]!,
    decision: denied.decisions[0]!,
    forwarded: undefined,
    at: 1_001,
  });
  assert.equal(byRule.decision, 'deny');
  assert.equal(byRule.rule, 'policy[1]');
  assert.match(String(byRule.reason), /^deny rule 1 applies: .*mcp_tool "update"/);
  assert.equal(byRule.upstream_status, null);
  assert.deepEqual(byRule.argument_keys, []);

  const onStrict = ctxOn(strict);
  const nothing = decideCalls(onStrict, { calls: update, responses: 0, batch: false });
  const byDefault = auditRecord(onStrict, {
    call: update[0]!,
    decision: nothing.decisions[0]!,
    forwarded: undefined,
    at: 1_001,
  });
  assert.equal(byDefault.decision, 'deny');
  assert.equal(byDefault.rule, 'default-deny');
  assert.equal(byDefault.route, 'routes[1]', 'an unnamed route is named by its index');
});

test('an upstream failure is its stable code, not a status', () => {
  const ctx = ctxOn();
  const calls = callsOf(jsonRpc({ id: 3, method: 'tools/call', params: { name: 'read_query' } }));
  const decision = decideCalls(ctx, { calls, responses: 0, batch: false }).decisions[0]!;
  const timedOut: ForwardResult = {
    ...answered,
    status: 504,
    error: new UpstreamTimeoutError('response', 30_000),
  };
  const record = auditRecord(ctx, { call: calls[0]!, decision, forwarded: timedOut, at: 2_000 });
  assert.equal(record.upstream_status, null);
  assert.equal(record.upstream_error, 'ERR_UPSTREAM_TIMEOUT');
});

test('argument names are bounded in number and length', () => {
  const many = Object.fromEntries(
    Array.from({ length: 100 }, (_, i) => [`${i}`.padStart(150, 'k'), 'v']),
  );
  const body = jsonRpc({ id: 4, method: 'tools/call', params: { name: 'x', arguments: many } });
  const calls = callsOf(body);
  const ctx = ctxOn();
  const decision = decideCalls(ctx, { calls, responses: 0, batch: false }).decisions[0]!;
  const record = auditRecord(ctx, { call: calls[0]!, decision, forwarded: answered, at: 1_000 });
  assert.equal(record.argument_keys.length, 64);
  assert.ok(record.argument_keys.every((k) => k.length === 100));
});

test('the line is written with audit: true and msg audit, and nothing from the request', () => {
  const written: string[] = [];
  const logger = pino({ level: 'info' }, { write: (line: string) => void written.push(line) });
  const ctx = ctxOn();
  const calls = callsOf(
    jsonRpc({ id: 5, method: 'tools/call', params: { name: 'q', arguments: { q: SECRET_QUERY } } }),
  );
  const decision = decideCalls(ctx, { calls, responses: 0, batch: false }).decisions[0]!;
  audit(logger, ctx, { call: calls[0]!, decision, forwarded: answered, at: 1_003 });
  assert.equal(written.length, 1);
  const line = JSON.parse(written[0]!) as Record<string, unknown>;
  assert.equal(line.audit, true);
  assert.equal(line.msg, 'audit');
  assert.equal(line.tool, 'q');
  assert.ok(!written[0]!.includes('s3cr3t'));
});

test('the audit fields serialize exactly as JSON.stringify writes the record', () => {
  const ctx = ctxOn();
  const calls = callsOf(
    jsonRpc({ id: 4, method: 'tools/call', params: { name: 'query', arguments: { sql: 'x' } } }),
  );
  const verdict = decideCalls(ctx, { calls, responses: 0, batch: false });
  const base = auditRecord(ctx, {
    call: calls[0]!,
    decision: verdict.decisions[0]!,
    forwarded: { status: 200 } as ForwardResult,
    at: 1_012.5,
  });
  const records = [
    base,
    { ...base, user: null, client: null, upstream_status: null, tool: null },
    {
      ...base,
      route: 'odd "route" \\ \u0001 é \u2028',
      user: { sub: 'u"1', email: null, groups: [] },
      client: { id: 'c', name: null },
      argument_keys: [],
      upstream_error: 'ERR_UPSTREAM_TIMEOUT',
    },
  ];
  for (const record of records) {
    assert.equal(auditFields(record), `,${JSON.stringify(record).slice(1, -1)}`);
  }
});
