/**
 * Issue 8 defect 4 (and issue 9's tools/list buffering finding), end to end: an upstream that
 * answers tools/list compressed, with a look-alike id, with an invalid message or with a body
 * too large to judge must never get a denied tool past the gateway. Each case goes through a
 * real gateway to a small node:http upstream started here; the gzip SSE case is also read by
 * the MCP SDK's own client.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import {
  createServer,
  type IncomingHttpHeaders,
  type Server,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import {
  brotliCompressSync,
  brotliDecompressSync,
  deflateSync,
  gunzipSync,
  gzipSync,
  inflateSync,
} from 'node:zlib';
import { hashPassword } from '../src/core/crypto.js';
import {
  cookie,
  gatewayYamlHead,
  mcpPost,
  signIn,
  startTestGateway,
  toolCall,
  type Sent,
  type TestGateway,
} from './support/gateway.js';
import { sseMessages } from './support/http.js';
import { connectClient } from './support/mcp-client.js';

const PASSWORD = 'hardening-tools-list-password';
const ADA = 'ada@example.com';
const TOOLS = ['read', 'update', 'delete_all', 'echo'];
const ALLOWED = ['read', 'echo'];
const DENIED = /update|delete_all/;
/** Over the gateway's 8 MiB tools/list cap (MAX_TOOLS_LIST_BYTES). */
const OVERSIZED_BYTES = 9 * 1024 * 1024;

/**
 * The upstream's answer is chosen by the request path, `/mcp/<framing>/<coding>/<oddity>`:
 * framing `json` or `sse`; coding a Content-Encoding value (`identity` for none) applied to the
 * body; oddity `plain`, `string-id` (the answer's id as a string), `result-and-error` (both
 * members), `unencoded` (the coding is claimed but not applied) or `oversized` (a JSON body
 * over the cap that never ends).
 */
interface OddUpstream {
  readonly url: string;
  /** The headers of every request received, in order. */
  readonly requests: { path: string; headers: IncomingHttpHeaders }[];
  /** Resolves when the next `oversized` answer's connection closes (read it before asking). */
  oversizedClosed: Promise<{ finished: boolean }>;
  close(): Promise<void>;
}

async function startOddUpstream(): Promise<OddUpstream> {
  let closedOversized: (v: { finished: boolean }) => void = () => {};
  const upstream: OddUpstream = {
    url: '',
    requests: [],
    oversizedClosed: Promise.resolve({ finished: true }),
    close: () => closeServer(server),
  };
  const armOversized = () => {
    upstream.oversizedClosed = new Promise((resolve) => (closedOversized = resolve));
  };
  armOversized();
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const path = req.url ?? '';
      upstream.requests.push({ path, headers: req.headers });
      if (req.method !== 'POST') {
        res.writeHead(405, { allow: 'POST' }).end();
        return;
      }
      const [, , framing = 'json', coding = 'identity', oddity = 'plain'] = path
        .split('/')
        .map(decodeURIComponent);
      const message = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>;
      if (message.id === undefined) {
        res.writeHead(202).end(); // a notification
        return;
      }
      if (oddity === 'oversized') {
        const report = closedOversized;
        armOversized();
        res.on('close', () => report({ finished: res.writableFinished }));
        return void sendOversized(res);
      }
      const reply = oddReply(message, oddity);
      const text =
        framing === 'sse'
          ? `event: message\nid: 1\ndata: ${JSON.stringify(reply)}\n\n`
          : JSON.stringify(reply);
      const body = oddity === 'unencoded' ? Buffer.from(text) : encode(Buffer.from(text), coding);
      res.writeHead(200, {
        'content-type': framing === 'sse' ? 'text/event-stream' : 'application/json',
        ...(coding === 'identity' ? {} : { 'content-encoding': coding }),
        'content-length': body.length,
      });
      res.end(body);
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return Object.assign(upstream, { url: `http://127.0.0.1:${port}` });
}

function oddReply(message: Record<string, unknown>, oddity: string): Record<string, unknown> {
  const id = oddity === 'string-id' ? String(message.id) : message.id;
  const result = resultFor(message);
  if (oddity === 'result-and-error') {
    return { jsonrpc: '2.0', id, result, error: { code: -32000, message: 'both' } };
  }
  return { jsonrpc: '2.0', id, result };
}

function resultFor(message: Record<string, unknown>): unknown {
  const params = (message.params ?? {}) as Record<string, unknown>;
  switch (message.method) {
    case 'initialize':
      return {
        protocolVersion: params.protocolVersion,
        capabilities: { tools: {} },
        serverInfo: { name: 'odd-upstream', version: '1.0.0' },
      };
    case 'tools/list':
      return {
        tools: TOOLS.map((name) => ({ name, inputSchema: { type: 'object' } })),
      };
    case 'tools/call':
      return { content: [{ type: 'text', text: 'called' }] };
    default:
      return {};
  }
}

/** `coding` is a Content-Encoding list: codings in the order they were applied (RFC 9110 §8.4). */
function encode(body: Buffer, coding: string): Buffer {
  return coding
    .split(',')
    .map((c) => c.trim())
    .reduce((bytes, c) => {
      if (c === 'gzip' || c === 'x-gzip') return gzipSync(bytes);
      if (c === 'deflate') return deflateSync(bytes);
      if (c === 'br') return brotliCompressSync(bytes);
      return bytes; // identity, or a coding this upstream cannot apply (the test's lie)
    }, body);
}

/** A JSON answer over the cap, written in 1 MiB pieces, and then silence: it never ends. */
function sendOversized(res: ServerResponse): void {
  res.writeHead(200, { 'content-type': 'application/json' });
  const piece = Buffer.alloc(1024 * 1024, 0x20);
  let sent = 0;
  const more = () => {
    while (sent < OVERSIZED_BYTES && !res.destroyed) {
      sent += piece.length;
      if (!res.write(piece)) return void res.once('drain', more);
    }
  };
  more();
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

/** The body as the client reads it: decoded as its Content-Encoding says (RFC 9110 §8.4). */
function decoded(res: Sent): string {
  const coding = String(res.headers['content-encoding'] ?? 'identity');
  const bytes = coding
    .split(',')
    .map((c) => c.trim().toLowerCase())
    .reverse()
    .reduce((b, c) => {
      if (c === 'gzip' || c === 'x-gzip') return gunzipSync(b);
      if (c === 'deflate') return inflateSync(b);
      if (c === 'br') return brotliDecompressSync(b);
      if (c === 'identity' || c === '') return b;
      throw new Error(`the client cannot decode ${c}`);
    }, res.bytes);
  return bytes.toString('utf8');
}

/** The JSON-RPC messages of an answer, JSON or SSE. */
function messages(res: Sent): Record<string, unknown>[] {
  const text = decoded(res);
  const sse = String(res.headers['content-type']).startsWith('text/event-stream');
  const all = sse ? sseMessages(text) : [JSON.parse(text) as unknown];
  return all.flat() as Record<string, unknown>[];
}

const listRequest = (id: number) => ({ jsonrpc: '2.0', id, method: 'tools/list', params: {} });

/** The tool names of the answer to `id`, or the answer's error. */
function answerTo(res: Sent, id: number): { tools?: string[]; error?: { code: number } } {
  const answer = messages(res).find((m) => m.id === id);
  assert.ok(answer, `no answer for id ${id}: ${decoded(res)}`);
  if (answer.error) return { error: answer.error as { code: number } };
  const tools = (answer.result as { tools: { name: string }[] }).tools;
  return { tools: tools.map((t) => t.name) };
}

/** The gateway's own refusal: 502, one JSON-RPC error for the tools/list id, honest headers. */
function assertUnfilterable(res: Sent, id: number): void {
  assert.equal(res.status, 502, decoded(res));
  assert.equal(res.headers['content-encoding'], undefined, 'the error is not compressed');
  assert.match(String(res.headers['content-type']), /^application\/json/);
  assert.equal(Number(res.headers['content-length']), res.bytes.length, 'Content-Length is true');
  assert.deepEqual(JSON.parse(res.body), {
    jsonrpc: '2.0',
    id,
    error: { code: -32603, message: 'tools/list response could not be checked by the gateway' },
  });
}

describe('tools/list filtering holds against compressed and odd answers', () => {
  let upstream: OddUpstream;
  let gw: TestGateway;
  let ada = '';

  before(async () => {
    upstream = await startOddUpstream();
    const hash = await hashPassword(PASSWORD);
    gw = await startTestGateway(
      (port) => `
${gatewayYamlHead(port)}
databroker_storage_type: memory
builtin_users:
  - { email: ${ADA}, name: Ada, groups: [admins], password_hash: '${hash}' }
routes:
  - from: http://localhost:${port}
    prefix: /mcp/
    to: ${upstream.url}/mcp/
    policy:
      - allow: { and: [{ domain: { is: example.com } }] }
      - deny: { or: [{ mcp_tool: { in: [update, delete_all] } }] }
    mcp: { server: {} }
`,
    );
    ada = await signIn(gw.origin, ADA, PASSWORD);
  });
  after(async () => {
    await gw?.close();
    await upstream?.close();
  });

  const list = (path: string, id = 7) =>
    mcpPost(gw.origin, path, listRequest(id), {
      session: ada,
      headers: { 'accept-encoding': 'gzip, deflate, br' },
      signal: AbortSignal.timeout(10_000),
    });

  it('asks the upstream for identity encoding on a tools/list request, and only there', async () => {
    upstream.requests.length = 0;
    await list('/mcp/json/identity/plain');
    await mcpPost(gw.origin, '/mcp/json/identity/plain', toolCall(8, 'read'), {
      session: ada,
      headers: { 'accept-encoding': 'gzip, br' },
    });
    const [listed, called] = upstream.requests;
    assert.equal(listed?.headers['accept-encoding'], 'identity');
    assert.equal(called?.headers['accept-encoding'], 'gzip, br');
  });

  for (const [framing, coding] of [
    ['sse', 'gzip'],
    ['sse', 'br'],
    ['sse', 'deflate'],
    ['json', 'gzip'],
    ['json', 'x-gzip'],
    ['json', 'deflate'],
    ['json', 'br'],
    ['json', 'gzip, br'],
  ] as const) {
    it(`decodes a ${coding} ${framing} answer and filters it`, async () => {
      const res = await list(`/mcp/${framing}/${encodeURIComponent(coding)}/plain`);
      assert.equal(res.status, 200, res.body);
      assert.doesNotMatch(decoded(res), DENIED);
      assert.deepEqual(answerTo(res, 7).tools, ALLOWED);
      assert.equal(res.headers['content-encoding'], undefined, 'sent decoded');
      if (framing === 'json') {
        assert.equal(Number(res.headers['content-length']), res.bytes.length);
      }
    });
  }

  it('refuses with 502 an answer in a coding it cannot decode, or that does not decode', async () => {
    for (const path of [
      '/mcp/json/compress/unencoded',
      '/mcp/sse/compress/unencoded',
      '/mcp/json/gzip/unencoded',
      '/mcp/json/zstd%2C%20gzip/plain',
      '/mcp/json/gzip%2C%20gzip%2C%20gzip/plain',
    ]) {
      const res = await list(path);
      assertUnfilterable(res, 7);
      assert.doesNotMatch(res.body, DENIED, path);
    }
  });

  it('cuts an event stream that does not decode: nothing unjudged reaches the client', async () => {
    await assert.rejects(list('/mcp/sse/gzip/unencoded'), /aborted|socket hang up/);
    // The gateway keeps serving.
    const res = await list('/mcp/sse/gzip/plain');
    assert.deepEqual(answerTo(res, 7).tools, ALLOWED);
  });

  it('does not take an answer whose id is "7" for request 7 as anything but unfilterable', async () => {
    const json = await list('/mcp/json/identity/string-id');
    assertUnfilterable(json, 7);
    const sse = await list('/mcp/sse/identity/string-id');
    assert.equal(sse.status, 200, sse.body);
    assert.doesNotMatch(decoded(sse), DENIED);
    assert.equal(answerTo(sse, 7).error?.code, -32603);
    // The reason goes to the log; the client gets the generic error.
    const warned = gw.logs.lines().filter((l) => /which no call used/.test(String(l.msg)));
    assert.equal(warned.length, 2, 'one warning for each answer');
  });

  it('refuses a message carrying both result and error', async () => {
    const json = await list('/mcp/json/identity/result-and-error');
    assertUnfilterable(json, 7);
    const sse = await list('/mcp/sse/gzip/result-and-error');
    assert.doesNotMatch(decoded(sse), DENIED);
    assert.equal(answerTo(sse, 7).error?.code, -32603);
  });

  it('answers 502 as soon as a JSON answer passes the cap, and stops reading it', async () => {
    const closed = upstream.oversizedClosed;
    const started = Date.now();
    const res = await list('/mcp/json/identity/oversized');
    assertUnfilterable(res, 7);
    assert.deepEqual(await closed, { finished: false }, 'the upstream answer was cut');
    assert.ok(Date.now() - started < 10_000);
  });

  it('the SDK client lists only the allowed tools from a gzip SSE answer', async () => {
    const client = await connectClient(`${gw.origin}/mcp/sse/gzip/plain`, cookie(ada));
    try {
      const { tools } = await client.listTools();
      assert.deepEqual(
        tools.map((t) => t.name),
        ALLOWED,
      );
    } finally {
      await client.close();
    }
  });
});
