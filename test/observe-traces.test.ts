/**
 * Traces end to end: the shipped gateway process exporting over OTLP/HTTP to a receiver on
 * loopback, in front of a recording JSON-RPC upstream, called by a client that sends its own
 * W3C `traceparent`. The batch delay is a minute, so spans arrive only through the flush at
 * shutdown: the test waits for the process to exit, never for a timer.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { DEAD_UPSTREAM } from './support/dead-upstream.js';
import { hashPassword } from '../src/core/crypto.js';
import { freePort, gatewayYamlHead, json, mcpPost, signIn, toolCall } from './support/gateway.js';
import { spawnGateway } from './support/gateway-process.js';
import { startJsonRpcUpstream } from './support/jsonrpc-upstream.js';

const CLIENT_TRACE = '0af7651916cd43dd8448eb211c80319c';
const CLIENT_SPAN = 'b7ad6b7169203331';
const TRACEPARENT = `00-${CLIENT_TRACE}-${CLIENT_SPAN}-01`;
const TRACESTATE = 'vendor=opaque';

interface OtlpValue {
  readonly stringValue?: string;
  readonly intValue?: number | string;
}
interface OtlpSpan {
  readonly traceId: string;
  readonly spanId: string;
  readonly parentSpanId?: string;
  readonly name: string;
  readonly kind: number;
  readonly attributes: readonly { key: string; value: OtlpValue }[];
  readonly status?: { code?: number };
}
interface Export {
  readonly path: string;
  readonly headers: IncomingHttpHeaders;
  readonly resourceAttributes: Record<string, unknown>;
  readonly spans: readonly OtlpSpan[];
}

/** An OTLP/HTTP receiver: records each POST /v1/traces (JSON, OTLP spec "JSON Protobuf Encoding"). */
async function startReceiver() {
  const exports: Export[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as {
        resourceSpans: {
          resource: { attributes: { key: string; value: OtlpValue }[] };
          scopeSpans: { spans: OtlpSpan[] }[];
        }[];
      };
      for (const rs of body.resourceSpans) {
        exports.push({
          path: req.url ?? '',
          headers: req.headers,
          resourceAttributes: attributes(rs.resource.attributes),
          spans: rs.scopeSpans.flatMap((s) => s.spans),
        });
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    exports,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

function attributes(list: readonly { key: string; value: OtlpValue }[]): Record<string, unknown> {
  return Object.fromEntries(
    list.map(({ key, value }) => [
      key,
      value.intValue !== undefined ? Number(value.intValue) : value.stringValue,
    ]),
  );
}

/** An MCP route with rule 0 allowing `echo` and rule 1 denying `delete_all`; a public one. */
async function gatewayYaml(port: number, upstream: string, extra: string): Promise<string> {
  const origin = `http://localhost:${port}`;
  return `${gatewayYamlHead(port)}
databroker_storage_type: memory
builtin_users:
  - { email: ${EMAIL}, password_hash: '${await hashPassword(PASSWORD)}' }
${extra}
routes:
  - from: ${origin}
    path: /mcp
    to: ${upstream}/mcp
    name: tools
    policy:
      - allow: { or: [{ mcp_tool: { is: echo } }] }
      - deny: { or: [{ mcp_tool: { is: delete_all } }] }
    mcp: { server: {} }
  - from: ${origin}
    path: /down
    to: ${DEAD_UPSTREAM}
    name: down
    allow_public_unauthenticated_access: true
`;
}

const EMAIL = 'ana@example.com';
const PASSWORD = 'traces test password';
const traced = { traceparent: TRACEPARENT, tracestate: TRACESTATE };

/** The receiver, the upstream and the gateway process between them, all stopped after `t`. */
async function startRig(
  t: TestContext,
  extraYaml: (receiver: string) => string,
  env: (receiver: string) => Record<string, string>,
) {
  const receiver = await startReceiver();
  t.after(() => receiver.close());
  const upstream = await startJsonRpcUpstream();
  t.after(() => upstream.close());
  const port = await freePort();
  const yaml = await gatewayYaml(port, upstream.url, extraYaml(receiver.url));
  const gateway = await spawnGateway(yaml, env(receiver.url));
  t.after(() => gateway.stop());
  return { receiver, upstream, gateway, origin: `http://localhost:${port}` };
}

test('a tools/call leaves a span with the client’s trace id, and the upstream is its child', async (t) => {
  const otel = (receiver: string) =>
    [
      'otel_traces_exporter: otlp',
      `otel_exporter_otlp_endpoint: ${receiver}`,
      'otel_exporter_otlp_headers: [x-collector-key=k1]',
      'otel_bsp_schedule_delay: 60000',
    ].join('\n');
  const { receiver, upstream, gateway, origin } = await startRig(t, otel, () => ({
    OTEL_SERVICE_NAME: 'edge-gateway',
  }));
  const session = await signIn(origin, EMAIL, PASSWORD);
  const headers = { ...traced, 'mcp-session-id': 'session-1' };

  const allowed = await mcpPost(origin, '/mcp', toolCall(7, 'echo', { a: 1 }), {
    session,
    headers,
  });
  assert.equal(allowed.status, 200, allowed.body);
  assert.ok(json(allowed).result);
  const denied = await mcpPost(origin, '/mcp', toolCall(8, 'delete_all'), {
    session,
    headers: traced,
  });
  assert.ok(json(denied).error, denied.body);
  const down = await mcpPost(origin, '/down', {}, { headers: traced });
  assert.equal(down.status, 502);
  // Nothing was exported yet (a minute's batch delay): the spans go out with the flush at exit.
  assert.equal(receiver.exports.length, 0);
  await gateway.stop();

  assert.ok(receiver.exports.length > 0, gateway.output());
  for (const e of receiver.exports) {
    assert.equal(e.path, '/v1/traces');
    assert.equal(e.headers['x-collector-key'], 'k1');
    assert.equal(e.resourceAttributes['service.name'], 'edge-gateway');
  }
  const spans = receiver.exports.flatMap((e) => e.spans);
  assert.deepEqual(spans.map((s) => s.name).sort(), [
    'POST down',
    'tools/call delete_all',
    'tools/call echo',
  ]);
  const byName = (name: string) => spans.find((s) => s.name === name)!;

  const echo = byName('tools/call echo');
  assert.equal(echo.kind, 2); // SPAN_KIND_SERVER
  assert.equal(echo.traceId, CLIENT_TRACE);
  assert.equal(echo.parentSpanId, CLIENT_SPAN);
  assert.deepEqual(attributes(echo.attributes), {
    'http.request.method': 'POST',
    'http.response.status_code': 200,
    'mcp.method.name': 'tools/call',
    'mcp.session.id': 'session-1',
    'gen_ai.tool.name': 'echo',
    'gen_ai.operation.name': 'execute_tool',
    'jsonrpc.request.id': '7',
    'portcullis.route': 'tools',
    'portcullis.decision': 'allow',
    'portcullis.rule': 0,
  });
  assert.notEqual(echo.status?.code, 2);

  // The upstream saw this span as its parent, in place of the client's, with the tracestate.
  assert.equal(upstream.requests.length, 1);
  const seen = upstream.requests[0]!.headers;
  assert.equal(seen.traceparent, `00-${CLIENT_TRACE}-${echo.spanId}-01`);
  assert.equal(seen.tracestate, TRACESTATE);

  const refused = attributes(byName('tools/call delete_all').attributes);
  assert.equal(refused['portcullis.decision'], 'deny');
  assert.equal(refused['portcullis.rule'], 1);
  assert.equal(refused['http.response.status_code'], denied.status);

  const failed = byName('POST down');
  assert.equal(failed.traceId, CLIENT_TRACE);
  assert.equal(attributes(failed.attributes)['http.response.status_code'], 502);
  assert.equal(failed.status?.code, 2); // STATUS_CODE_ERROR
});

test('with traces off nothing is exported and the client’s trace context reaches the upstream as sent', async (t) => {
  // The exporter's variable points at the receiver: only the switch is missing.
  const { receiver, upstream, gateway, origin } = await startRig(
    t,
    () => '',
    (receiver) => ({ OTEL_EXPORTER_OTLP_ENDPOINT: receiver }),
  );
  const session = await signIn(origin, EMAIL, PASSWORD);
  const res = await mcpPost(origin, '/mcp', toolCall(1, 'echo'), { session, headers: traced });
  assert.equal(res.status, 200, res.body);
  await gateway.stop();
  assert.equal(upstream.requests[0]?.headers.traceparent, TRACEPARENT);
  assert.equal(upstream.requests[0]?.headers.tracestate, TRACESTATE);
  assert.equal(receiver.exports.length, 0);
  assert.doesNotMatch(gateway.output(), /traces: exporting/);
});
