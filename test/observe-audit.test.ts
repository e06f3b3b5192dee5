/**
 * The audit line end to end (issue 13 "Must show"): an MCP client with an OAuth token makes an
 * allowed tool call with secret argument values and one the policy denies; the gateway's log
 * holds an audit line for each, naming the client and the rule, and no line of the whole run
 * holds an argument value, the access or refresh token, the authorization code or the cookie.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { toolCall } from './support/gateway.js';
import {
  authorizeCode,
  exchange,
  startOAuthGateway,
  type OAuthTestGateway,
  type RoutesYaml,
} from './support/oauth-flow.js';

const ROUTES: RoutesYaml = (origin, upstreamUrl) => `
  - from: ${origin}
    prefix: /sqlite
    to: ${upstreamUrl}/sqlite
    name: DB
    policy:
      - allow: { and: [{ domain: { is: example.com } }] }
      - deny: { or: [{ mcp_tool: { is: delete_all } }] }
    mcp: { server: {} }
`;

const SECRET_QUERY = 'SELECT card_number FROM payments -- audit-secret-value-1';
const SECRET_PASSWORD = 'audit-secret-value-2';

describe('audit line through the gateway', () => {
  let gw: OAuthTestGateway;
  let accessToken = '';
  let refreshToken = '';
  let code = '';
  let clientId = '';

  before(async () => {
    gw = await startOAuthGateway({}, '', ROUTES);
    const a = await authorizeCode(gw);
    const t = await exchange(gw, a);
    assert.equal(t.status, 200, JSON.stringify(t.body));
    accessToken = String(t.body.access_token);
    refreshToken = String(t.body.refresh_token ?? '');
    code = a.code;
    clientId = a.clientId;
  });
  after(() => gw?.close());

  const call = (body: object, requestId: string) =>
    fetch(`${gw.origin}/sqlite`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
        authorization: `Bearer ${accessToken}`,
        'x-request-id': requestId,
      },
      body: JSON.stringify(body),
    });
  const auditOf = (requestId: string) =>
    gw.logs.lines().filter((l) => l.audit === true && l.req_id === requestId);

  it('an allowed tool call: the client, the rule, the upstream status and the argument names', async () => {
    const args = { query: SECRET_QUERY, password: SECRET_PASSWORD };
    const res = await call(toolCall(1, 'read', args), 'audit-allowed');
    assert.equal(res.status, 200, await res.text());
    const lines = auditOf('audit-allowed');
    assert.equal(lines.length, 1, JSON.stringify(lines));
    const line = lines[0]!;
    assert.equal(line.msg, 'audit');
    assert.equal(line.route, 'DB');
    assert.deepEqual(line.client, { id: clientId, name: 'Test client' });
    assert.equal((line.user as { email: string }).email, 'ada@example.com');
    assert.equal(line.tool, 'read');
    assert.equal(line.decision, 'allow');
    assert.equal(line.rule, 'policy[0]');
    assert.equal(line.upstream_status, 200);
    assert.equal(typeof line.duration_ms, 'number');
    assert.deepEqual(line.argument_keys, ['query', 'password']);
  });

  it('a denied tool call names the deny rule', async () => {
    const res = await call(toolCall(2, 'delete_all', { confirm: SECRET_PASSWORD }), 'audit-denied');
    assert.equal(res.status, 200);
    const lines = auditOf('audit-denied');
    assert.equal(lines.length, 1, JSON.stringify(lines));
    assert.equal(lines[0]!.decision, 'deny');
    assert.equal(lines[0]!.rule, 'policy[1]');
    assert.equal(lines[0]!.upstream_status, null);
    assert.deepEqual(lines[0]!.argument_keys, ['confirm']);
  });

  it('no line of the run holds an argument value, a token, the code or a cookie', () => {
    const text = gw.logs.text();
    assert.ok(text.includes('"audit":true'), 'the log was captured');
    const host = new URL(gw.origin).hostname;
    const cookies = gw.jar.names(host).map((name) => gw.jar.get(host, name)?.value ?? '');
    assert.ok(cookies.length > 0, 'the browser holds the gateway session');
    const secrets: [string, string][] = [
      ['argument value', SECRET_QUERY],
      ['argument value', SECRET_PASSWORD],
      ['access token', accessToken],
      ['refresh token', refreshToken],
      ['authorization code', code],
      ...cookies.map((c): [string, string] => ['cookie', c]),
    ];
    for (const [what, secret] of secrets) {
      if (secret === '') continue;
      assert.ok(!text.includes(secret), `the log holds the ${what}`);
    }
  });
});
