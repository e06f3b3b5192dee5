import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NOT_SIGNED_IN } from '../../core/not-signed-in.js';
import { INVALID_PARAMS, type InspectedCalls, type McpCall } from '../inspect.js';
import type { SessionRecord } from '../../storage/types.js';
import type { Answer } from './answer.js';
import { unauthorizedAnswer } from './cors.js';
import { decideCalls, decideRequest, refusalAnswer, signInFirst } from './decide.js';
import {
  callerRequest,
  incoming,
  matchRoute,
  MCP_HOST,
  PLAIN_HOST,
  routesFrom,
  session,
} from './fixtures.test-suite.js';

const routes = routesFrom(
  [
    '  - from: https://db.example.com',
    '    prefix: /sqlite',
    '    to: http://mcp-servers:8080/sqlite',
    '    allow_any_authenticated_user: true',
    '    policy:',
    '      - deny:',
    '          or:',
    '            - mcp_tool: {is: update}',
    '            - mcp_method: {is: notifications/roots/list_changed}',
    '    mcp: {server: {}}',
    '  - from: https://db.example.com',
    '    prefix: /open',
    '    to: http://mcp-servers:8080/whoami',
    '    allow_public_unauthenticated_access: true',
    '    mcp: {server: {}}',
    '  - from: https://app.example.com',
    '    to: http://app.internal',
    '    policy:',
    '      - allow: {or: [{domain: {is: corp.example}}]}',
    '',
  ].join('\n'),
);

const bob = session();
const mcp = matchRoute(routes, MCP_HOST, '/sqlite');
const open = matchRoute(routes, MCP_HOST, '/open');
const plain = matchRoute(routes, PLAIN_HOST, '/page');

const post = (caller: SessionRecord | undefined, match = mcp) =>
  callerRequest(match, incoming({ method: 'POST', url: match.prefix }), caller);

const toolCall = (id: number | string, tool: string): McpCall => ({
  id,
  method: 'tools/call',
  tool,
});
const notification = (method: string): McpCall => ({ id: null, method, tool: null });
const inspected = (calls: McpCall[], responses = 0): InspectedCalls => ({
  calls,
  responses,
  batch: calls.length + responses > 1,
});

/** The JSON-RPC errors of a denied POST, parsed. */
function deniedBody(answer: Answer): unknown {
  assert.equal(answer.kind, 'text');
  if (answer.kind !== 'text') return undefined;
  assert.deepEqual(answer.headers, {
    'content-type': 'application/json',
    'cache-control': 'no-store',
  });
  return JSON.parse(answer.body);
}

const rpcError = (id: number | string | null, message: string) => ({
  jsonrpc: '2.0',
  id,
  error: { code: INVALID_PARAMS, message, data: { request_id: 'req-1' } },
});

test('an allowed tools/call goes on, with the id a gateway error would answer', () => {
  const verdict = decideCalls(post(bob), inspected([toolCall(4, 'read_query')]));
  assert.equal(verdict.allow, true);
  if (!verdict.allow) return;
  assert.equal(verdict.jsonRpcErrorId, 4);
  assert.equal(verdict.decisions.length, 1);
  assert.match(verdict.decisions[0]!.reason, /^allow_any_authenticated_user/);
  // The same judge goes to the tools/list filter: it denies what the route denies.
  assert.equal(verdict.decideCall(toolCall(5, 'update')).allow, false);
  assert.equal(verdict.decideCall(toolCall(5, 'list_tables')).allow, true);
});

test('a deny rule on mcp_tool refuses the call: HTTP 200 with a JSON-RPC error, no reason', () => {
  const verdict = decideCalls(post(bob), inspected([toolCall('x', 'update')]));
  assert.equal(verdict.allow, false);
  if (verdict.allow) return;
  assert.deepEqual(
    verdict.decisions.map((d) => [d.allow, d.rule]),
    [[false, 0]],
  );
  assert.equal(verdict.answer.kind === 'text' && verdict.answer.status, 200);
  assert.deepEqual(
    deniedBody(verdict.answer),
    rpcError('x', 'tool call denied by policy (see the authorization log for request req-1)'),
  );
});

test('a batch with one denied call is refused whole: every request in it gets an error', () => {
  const calls = [
    toolCall(1, 'read_query'),
    notification('notifications/initialized'),
    toolCall(2, 'update'),
  ];
  const verdict = decideCalls(post(bob), inspected(calls));
  assert.equal(verdict.allow, false);
  if (verdict.allow) return;
  // Every call is decided, so the log shows each.
  assert.deepEqual(
    verdict.decisions.map((d) => d.allow),
    [true, true, false],
  );
  assert.deepEqual(deniedBody(verdict.answer), [
    rpcError(
      1,
      'batch refused: another message in it was denied by policy (see the authorization log for request req-1)',
    ),
    rpcError(2, 'tool call denied by policy (see the authorization log for request req-1)'),
  ]);
  // The same batch without the denied call passes, and answers errors with its first id.
  const allowed = decideCalls(post(bob), inspected(calls.slice(0, 2)));
  assert.equal(allowed.allow && allowed.jsonRpcErrorId, 1);
});

test('notifications: allowed ones go on; a denied one is 403 with an id-less error', () => {
  const fine = decideCalls(post(bob), inspected([notification('notifications/initialized')]));
  assert.equal(fine.allow, true);
  assert.equal(fine.allow && fine.jsonRpcErrorId, null);
  const denied = decideCalls(
    post(bob),
    inspected([notification('notifications/roots/list_changed')]),
  );
  assert.equal(denied.allow, false);
  if (denied.allow) return;
  assert.equal(denied.answer.kind === 'text' && denied.answer.status, 403);
  assert.deepEqual(
    deniedBody(denied.answer),
    rpcError(null, 'request denied by policy; see the authorization log for request req-1'),
  );
});

test('a body of JSON-RPC responses only is judged once, as the request', () => {
  const verdict = decideCalls(post(bob), inspected([], 1));
  assert.equal(verdict.allow, true);
  assert.equal(verdict.decisions.length, 0);
  const nobody = decideCalls(post(undefined), inspected([], 1));
  assert.equal(nobody.allow, false);
});

test('nobody signed in on an MCP route: 401 with the challenge, before and after reading', () => {
  const anonymous = post(undefined);
  const expected = unauthorizedAnswer(mcp.route, undefined);
  assert.deepEqual(signInFirst(anonymous), expected);
  assert.equal(signInFirst(post(bob)), undefined);
  const verdict = decideCalls(anonymous, inspected([toolCall(1, 'read_query')]));
  assert.deepEqual(verdict.allow === false && verdict.answer, expected);
});

test('a public route reads the body of anyone and allows every call', () => {
  const anonymous = post(undefined, open);
  assert.equal(signInFirst(anonymous), undefined);
  const verdict = decideCalls(anonymous, inspected([toolCall(1, 'update')]));
  assert.equal(verdict.allow, true);
  assert.equal(
    verdict.allow && verdict.decisions[0]!.reason,
    'allow_public_unauthenticated_access',
  );
});

test('a request decided whole: allowed, 403 for a signed-in user, sign-in for a browser', () => {
  const get = (caller: SessionRecord | undefined, headers = {}) =>
    callerRequest(plain, incoming({ method: 'GET', url: '/page?x=1', headers }), caller);
  assert.deepEqual(decideRequest(get(session({ email: 'amy@corp.example' }))).answer, undefined);
  const refused = decideRequest(get(bob));
  assert.equal(refused.decision.allow, false);
  assert.deepEqual(refused.answer, {
    kind: 'json',
    status: 403,
    body: {
      error: 'forbidden',
      error_description: 'access denied by policy; see the authorization log for request req-1',
    },
  });
  const browser = { accept: 'text/html,application/xhtml+xml' };
  assert.deepEqual(decideRequest(get(undefined, browser)).answer, {
    kind: 'sign-in',
    returnTo: '/page?x=1',
  });
  assert.deepEqual(decideRequest(get(undefined)).answer, {
    kind: 'json',
    status: 401,
    body: NOT_SIGNED_IN,
    statusMessage: 'Unauthorized',
  });
});

test('only a browser’s GET or HEAD is sent to sign in; a POST gets 401', () => {
  const req = incoming({ method: 'POST', url: '/page', headers: { accept: 'text/html' } });
  const answer = refusalAnswer(callerRequest(plain, req, undefined));
  assert.equal(answer.kind === 'json' && answer.status, 401);
  const get = incoming({ method: 'GET', url: '/sqlite', headers: { accept: 'text/html' } });
  assert.deepEqual(refusalAnswer(callerRequest(mcp, get, undefined)), {
    kind: 'sign-in',
    returnTo: '/sqlite',
  });
});
