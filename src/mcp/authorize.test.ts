import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Decision } from '../policy/evaluate.js';
import { authorizeMcpRequest, deniedResponse } from './authorize.js';
import type { McpCall } from './inspect.js';

const allow: Decision = { allow: true, reason: 'allow rule 0 applies: accept', rule: 0 };
const deny: Decision = { allow: false, reason: 'deny rule 1 applies: mcp_tool', rule: 1 };

const list: McpCall = { id: 1, method: 'tools/list', tool: null };
const read: McpCall = { id: 2, method: 'tools/call', tool: 'read_query' };
const update: McpCall = { id: 'u', method: 'tools/call', tool: 'update' };
const note: McpCall = { id: null, method: 'notifications/initialized', tool: null };

const byTool = (call: McpCall | null) => (call?.tool === 'update' ? deny : allow);

test('every call allowed: the request is allowed, with every decision for the log', () => {
  const r = authorizeMcpRequest([list, read, note], byTool);
  assert.deepEqual(r, { allow: true, decisions: [allow, allow, allow] });
});

test('one denied call refuses the whole batch; every call is still decided', () => {
  const seen: (McpCall | null)[] = [];
  const r = authorizeMcpRequest([list, update, read], (c) => (seen.push(c), byTool(c)));
  assert.equal(r.allow, false);
  assert.deepEqual(seen, [list, update, read]);
  assert.deepEqual(!r.allow && r.denial, { call: update, decision: deny });
});

test('responses, or no call at all, are judged by decide(null): never allowed by default', () => {
  const seen: (McpCall | null)[] = [];
  const r = authorizeMcpRequest([], (c) => (seen.push(c), deny));
  assert.deepEqual(seen, [null]);
  assert.deepEqual(!r.allow && r.denial, { call: null, decision: deny });
  assert.equal(authorizeMcpRequest([read], (c) => (c === null ? deny : allow), 1).allow, false);
  assert.equal(authorizeMcpRequest([read], () => allow, 1).allow, true);
});

test('a denied tools/call gets HTTP 200 and a JSON-RPC -32602 error with its id and the request id', () => {
  const r = deniedResponse([update], { call: update, decision: deny }, 'req-42');
  assert.equal(r.status, 200);
  assert.equal(r.headers['content-type'], 'application/json');
  assert.deepEqual(JSON.parse(r.body), {
    jsonrpc: '2.0',
    id: 'u',
    error: {
      code: -32602,
      message: 'tool call denied by policy (see the authorization log for request req-42)',
      data: { request_id: 'req-42' },
    },
  });
  assert.doesNotMatch(r.body, /deny rule/, 'the reason stays in the log');
});

test('a denied batch answers every request in it, as an array', () => {
  const r = deniedResponse([list, update, note], { call: update, decision: deny }, 'req-1');
  assert.equal(r.status, 200);
  const body = JSON.parse(r.body) as { id: unknown; error: { code: number; message: string } }[];
  assert.deepEqual(
    body.map((e) => [e.id, e.error.code]),
    [
      [1, -32602],
      ['u', -32602],
    ],
  );
  assert.match(body[0]!.error.message, /^batch refused: another message in it was denied/);
  assert.match(body[1]!.error.message, /^tool call denied by policy/);
  // A batch of one is still answered with an array.
  const one = deniedResponse([update], { call: update, decision: deny }, 'r', true);
  assert.ok(Array.isArray(JSON.parse(one.body)));
});

test('other methods: "request denied"; nothing to answer by id: 403', () => {
  const r = deniedResponse([list], { call: list, decision: deny }, 'r');
  assert.match(
    (JSON.parse(r.body) as { error: { message: string } }).error.message,
    /^request denied by policy/,
  );
  const n = deniedResponse([note], { call: note, decision: deny }, 'r');
  assert.equal(n.status, 403);
  assert.equal((JSON.parse(n.body) as { id: unknown }).id, null);
  const resp = deniedResponse([], { call: null, decision: deny }, 'r');
  assert.equal(resp.status, 403);
});
