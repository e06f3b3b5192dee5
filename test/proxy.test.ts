import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import {
  createServer,
  request,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type OutgoingHttpHeaders,
  type RequestListener,
  type Server,
} from 'node:http';
import { createServer as createNetServer, type AddressInfo } from 'node:net';
import { once } from 'node:events';
import { pino } from 'pino';
import type { RouteConfig } from '../src/config/types.js';
import { createForwarder, type Forwarder } from '../src/proxy/forward.js';
import { compileTrustedProxies } from '../src/net/trusted-proxies.js';
import { upstreamRequestHeaders } from '../src/proxy/headers.js';
import { compileRoutes } from '../src/proxy/match.js';
import { upstreamPath } from '../src/proxy/upstream-url.js';
import { DEAD_UPSTREAM } from './support/dead-upstream.js';

// Real upstream servers and a minimal gateway edge on loopback, wired the way the gateway wires
// the proxy modules: match → rewrite → header hygiene → forward.

interface Upstream {
  readonly url: string;
  readonly server: Server;
  readonly seen: IncomingHttpHeaders[];
}

async function listen(server: Server): Promise<string> {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

const servers: Server[] = [];
async function upstream(handler: RequestListener): Promise<Upstream> {
  const seen: IncomingHttpHeaders[] = [];
  const server = createServer((req, res) => {
    seen.push(req.headers);
    handler(req, res);
  });
  servers.push(server);
  return { url: await listen(server), server, seen };
}

function route(
  host: string,
  to: string[],
  extra: Partial<Pick<RouteConfig, 'match' | 'timeoutMs' | 'mcp' | 'prefixRewrite'>> = {},
): RouteConfig {
  return {
    index: 0,
    id: null,
    from: `http://${host}`,
    to,
    name: null,
    description: null,
    logoUrl: null,
    match: { kind: 'any' },
    prefixRewrite: null,
    preserveHostHeader: false,
    passIdentityHeaders: false,
    allowAnyAuthenticatedUser: true,
    allowPublicUnauthenticatedAccess: false,
    policy: [],
    timeoutMs: null,
    idleTimeoutMs: null,
    mcp: null,
    ...extra,
  };
}

const mcpServer = (resourceUrl: string): RouteConfig['mcp'] => ({
  kind: 'server',
  path: '/',
  resourceUrl,
  maxRequestBytes: null,
  upstreamOauth2: null,
  authorizationServerUrl: null,
});

let forwarder: Forwarder;

/** The gateway edge in miniature; returns its base URL. */
async function gateway(
  routes: RouteConfig[],
  trusted: string[] = [],
  fwd?: Forwarder,
): Promise<string> {
  const matcher = compileRoutes(routes);
  const trustedProxy = compileTrustedProxies(trusted);
  const server = createServer(async (req, res) => {
    const target = req.url ?? '/';
    const m = matcher.match({ host: req.headers.host ?? '', path: target }, 'http');
    if (!m) return void res.writeHead(404).end();
    const r = m.route;
    const isMcpPost = r.mcp?.kind === 'server' && req.method === 'POST';
    let body: Buffer | undefined;
    let id: string | number | null = null;
    if (isMcpPost) {
      const chunks: Buffer[] = [];
      for await (const c of req) chunks.push(c as Buffer);
      body = Buffer.concat(chunks);
      id = (JSON.parse(body.toString()) as { id?: number }).id ?? null;
    }
    await (fwd ?? forwarder).forward(req, res, {
      upstreams: r.to.map((t) => new URL(t)),
      path: (to) => upstreamPath(to, target, m.prefix, r.prefixRewrite),
      headers: upstreamRequestHeaders(req.headers, {
        peerAddress: req.socket.remoteAddress,
        listenerScheme: 'http',
        trustedProxy,
        routeKind: r.mcp ? `mcp-${r.mcp.kind}` : 'plain',
        preserveHostHeader: false,
        claimHeaders: new Set(),
      }),
      ...(body ? { body } : {}),
      timeoutMs: r.mcp ? null : r.timeoutMs,
      idleTimeoutMs: r.mcp ? null : r.idleTimeoutMs,
      jsonRpcErrorId: id,
      isMcpPost,
    });
  });
  servers.push(server);
  return listen(server);
}

interface Reply {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
}

function call(
  base: string,
  host: string,
  o: { method?: string; path?: string; headers?: OutgoingHttpHeaders; body?: string } = {},
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request(
      new URL(o.path ?? '/', base),
      { method: o.method ?? 'GET', headers: { host, ...o.headers }, agent: false },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      },
    );
    req.on('error', reject);
    req.end(o.body);
  });
}

/** Starts a request and resolves with the response once its headers arrive. */
function open(
  base: string,
  host: string,
  o: { method?: string; path?: string; headers?: OutgoingHttpHeaders } = {},
) {
  const req = request(new URL(o.path ?? '/', base), {
    method: o.method ?? 'GET',
    headers: { host, ...o.headers },
    agent: false,
  });
  const response = once(req, 'response').then(([r]) => r as IncomingMessage);
  return { req, response };
}

before(() => {
  forwarder = createForwarder({ logger: pino({ level: 'silent' }), connectTimeoutMs: 2000 });
});

after(() => {
  forwarder.close();
  for (const s of servers) {
    s.closeAllConnections();
    s.close();
  }
});

test('an SSE event reaches the client while the upstream keeps the stream open', async (t) => {
  let writtenAt = 0n;
  let endStream!: () => void;
  const ended = new Promise<void>((r) => (endStream = r));
  const up = await upstream((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
    res.flushHeaders();
    setTimeout(() => {
      writtenAt = process.hrtime.bigint();
      res.write('id: 1\ndata: {"jsonrpc":"2.0","method":"notifications/message"}\n\n');
    }, 50);
    void ended.then(() => res.end());
  });
  const gw = await gateway([
    route('mcp.test', [`${up.url}/sqlite`], { mcp: mcpServer('http://mcp.test') }),
  ]);
  const { req, response } = open(gw, 'mcp.test', { headers: { accept: 'text/event-stream' } });
  req.end();
  const res = await response;
  assert.equal(res.statusCode, 200);
  assert.equal(res.headers['content-type'], 'text/event-stream');
  const [chunk] = (await once(res, 'data')) as [Buffer];
  const crossing = Number(process.hrtime.bigint() - writtenAt) / 1e3;
  assert.match(chunk.toString(), /^id: 1\ndata: .*notifications\/message/);
  assert.equal(res.complete, false, 'the stream is still open');
  t.diagnostic(`SSE event crossed the proxy in ${crossing.toFixed(0)} µs`);
  endStream();
  await once(res, 'end');
});

test('large request and response bodies stream both ways without buffering', async () => {
  const chunk = Buffer.alloc(64 * 1024, 'x');
  const chunks = 256; // 16 MiB each way
  let firstRequestByte!: () => void;
  const upstreamGotFirst = new Promise<void>((r) => (firstRequestByte = r));
  let clientGotFirst!: () => void;
  const clientSawFirst = new Promise<void>((r) => (clientGotFirst = r));
  const up = await upstream((req, res) => {
    const hash = createHash('sha256');
    let size = 0;
    req.on('data', (c: Buffer) => {
      if (size === 0) firstRequestByte();
      size += c.length;
      hash.update(c);
    });
    req.on('end', async () => {
      res.writeHead(200, { 'x-request-size': String(size), 'x-request-sha': hash.digest('hex') });
      res.write(chunk);
      await clientSawFirst; // the first response chunk crosses before the rest exists
      for (let i = 1; i < chunks; i++) {
        if (!res.write(chunk)) await once(res, 'drain');
      }
      res.end();
    });
  });
  const gw = await gateway([route('big.test', [up.url])]);
  const { req, response } = open(gw, 'big.test', { method: 'PUT' });
  req.write(chunk);
  await upstreamGotFirst; // the first request chunk crosses before the rest is sent
  for (let i = 1; i < chunks; i++) {
    if (!req.write(chunk)) await once(req, 'drain');
  }
  req.end();
  const res = await response;
  const expected = createHash('sha256');
  for (let i = 0; i < chunks; i++) expected.update(chunk);
  assert.equal(res.headers['x-request-size'], String(chunk.length * chunks));
  assert.equal(res.headers['x-request-sha'], expected.digest('hex'));
  const got = createHash('sha256');
  let size = 0;
  for await (const c of res as AsyncIterable<Buffer>) {
    if (size === 0) clientGotFirst();
    size += c.length;
    got.update(c);
  }
  assert.equal(size, chunk.length * chunks);
});

test('a client that goes away cancels the upstream request', async () => {
  let upstreamClosed!: (where: string) => void;
  const closed = new Promise<string>((r) => (upstreamClosed = r));
  let upstreamGot!: () => void;
  const got = new Promise<void>((r) => (upstreamGot = r));
  const up = await upstream((req, res) => {
    res.on('close', () => upstreamClosed(req.url ?? ''));
    if (req.url === '/stream') {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write('data: 1\n\n');
    }
    upstreamGot();
  });
  const gw = await gateway([route('abort.test', [up.url])]);

  // Before the response starts.
  const a = open(gw, 'abort.test', { path: '/wait' });
  a.req.on('error', () => {});
  a.response.catch(() => {});
  a.req.end();
  await got;
  a.req.destroy();
  assert.equal(await closed, '/wait');

  // In the middle of a stream.
  const closedAgain = new Promise<string>((r) => (upstreamClosed = r));
  const b = open(gw, 'abort.test', { path: '/stream' });
  b.req.on('error', () => {});
  b.req.end();
  const res = await b.response;
  await once(res, 'data');
  b.req.destroy();
  assert.equal(await closedAgain, '/stream');
});

test('an unreachable upstream is a 502 JSON error, a JSON-RPC error on an MCP POST', async () => {
  const dead = DEAD_UPSTREAM;
  const gw = await gateway([
    route('plain.test', [dead]),
    route('mcp.test', [dead], { mcp: mcpServer('http://mcp.test') }),
  ]);
  const plain = await call(gw, 'plain.test');
  assert.equal(plain.status, 502);
  assert.match(String(plain.headers['content-type']), /^application\/json/);
  assert.equal((JSON.parse(plain.body) as { error: string }).error, 'upstream_unavailable');

  const mcp = await call(gw, 'mcp.test', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ jsonrpc: '2.0', id: 7, method: 'tools/list' }),
  });
  assert.equal(mcp.status, 502);
  const rpc = JSON.parse(mcp.body) as { jsonrpc: string; id: number; error: { code: number } };
  assert.equal(rpc.jsonrpc, '2.0');
  assert.equal(rpc.id, 7);
  assert.equal(rpc.error.code, -32603);
});

test('failover to a live upstream, replaying a buffered MCP body', async () => {
  const dead = DEAD_UPSTREAM;
  const live = await upstream((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => (body += c));
    req.on('end', () => res.end(`live:${req.method}:${body}`));
  });
  const gw = await gateway([
    route('fo.test', [dead, live.url]),
    route('fomcp.test', [dead, live.url], { mcp: mcpServer('http://fomcp.test') }),
  ]);
  for (let i = 0; i < 4; i++) {
    const r = await call(gw, 'fo.test');
    assert.equal(r.body, 'live:GET:');
    const body = JSON.stringify({ jsonrpc: '2.0', id: i, method: 'ping' });
    const m = await call(gw, 'fomcp.test', { method: 'POST', body });
    assert.equal(m.body, `live:POST:${body}`);
  }
});

test('round-robin spreads requests over the upstreams', async () => {
  const count = new Map<string, number>();
  const make = (name: string) =>
    upstream((_req, res) => {
      count.set(name, (count.get(name) ?? 0) + 1);
      res.end(name);
    });
  const [a, b, c] = await Promise.all([make('a'), make('b'), make('c')]);
  const gw = await gateway([route('rr.test', [a.url, b.url, c.url])]);
  for (let i = 0; i < 9; i++) await call(gw, 'rr.test');
  assert.deepEqual(Object.fromEntries(count), { a: 3, b: 3, c: 3 });
});

test('header hygiene end to end', async () => {
  const up = await upstream((_req, res) => {
    res.writeHead(200, {
      connection: 'keep-alive, x-resp-hop',
      'x-resp-hop': '1',
      'keep-alive': 'timeout=99',
      'proxy-authenticate': 'Basic',
      'mcp-session-id': 'from-upstream',
      'x-end-to-end': 'yes',
    });
    res.end('ok');
  });
  const mcpGw = await gateway([
    route('mcp.test', [`${up.url}/sqlite`], { mcp: mcpServer('http://mcp.test') }),
    route('plain.test', [up.url]),
  ]);
  const trustingGw = await gateway([route('plain.test', [up.url])], ['127.0.0.1']);
  const clientHeaders = {
    authorization: 'Bearer external-token',
    origin: 'https://evil.example',
    'x-pomerium-jwt-assertion': 'forged',
    'X-Pomerium-Claim-Email': 'admin@example.com',
    connection: 'keep-alive, x-hop',
    'x-hop': '1',
    'keep-alive': 'timeout=5',
    'proxy-authorization': 'Basic eA==',
    te: 'gzip',
    'mcp-session-id': 'from-client',
    'mcp-protocol-version': '2025-11-25',
    'last-event-id': '9',
    'x-forwarded-for': '6.6.6.6',
    'x-forwarded-proto': 'https',
    'x-forwarded-host': 'spoofed.example',
  };

  const r = await call(mcpGw, 'mcp.test', { path: '/', headers: clientHeaders });
  assert.equal(r.status, 200);
  const s = up.seen.at(-1)!;
  assert.equal(s.authorization, undefined, 'Authorization never reaches an MCP server');
  assert.equal(s.origin, undefined, 'Origin is the gateway’s to check');
  assert.deepEqual(
    Object.keys(s).filter((k) => k.startsWith('x-pomerium-')),
    [],
  );
  for (const hop of ['x-hop', 'proxy-authorization', 'te', 'keep-alive']) {
    assert.equal(s[hop], undefined, hop);
  }
  assert.equal(s['mcp-session-id'], 'from-client');
  assert.equal(s['mcp-protocol-version'], '2025-11-25');
  assert.equal(s['last-event-id'], '9');
  assert.equal(s.host, new URL(up.url).host, 'Host is the upstream’s');
  assert.equal(
    s['x-forwarded-for'],
    '127.0.0.1',
    'an untrusted peer’s X-Forwarded-For is replaced',
  );
  assert.equal(s['x-forwarded-proto'], 'http');
  assert.equal(s['x-forwarded-host'], 'mcp.test');
  assert.equal(r.headers['mcp-session-id'], 'from-upstream');
  assert.equal(r.headers['x-end-to-end'], 'yes');
  assert.equal(r.headers['x-resp-hop'], undefined);
  assert.equal(r.headers['proxy-authenticate'], undefined);
  assert.notEqual(r.headers['keep-alive'], 'timeout=99');

  await call(mcpGw, 'plain.test', { headers: clientHeaders });
  const p = up.seen.at(-1)!;
  assert.equal(p.authorization, 'Bearer external-token', 'plain routes keep Authorization');
  assert.equal(p['x-pomerium-jwt-assertion'], undefined);

  await call(trustingGw, 'plain.test', { headers: clientHeaders });
  const t = up.seen.at(-1)!;
  assert.equal(t['x-forwarded-for'], '6.6.6.6, 127.0.0.1', 'a trusted proxy’s list is extended');
  assert.equal(t['x-forwarded-proto'], 'https');
  assert.equal(t['x-forwarded-host'], 'spoofed.example');
});

test('no timeout on MCP routes; a plain route with a 300 ms timeout gets 504', async () => {
  const up = await upstream((_req, res) => {
    const timer = setTimeout(() => res.end('late'), 1500);
    res.on('close', () => clearTimeout(timer));
  });
  const gw = await gateway([
    route('mcp.test', [up.url], { mcp: mcpServer('http://mcp.test'), timeoutMs: 300 }),
    route('plain.test', [up.url], { timeoutMs: 300 }),
  ]);
  const [mcp, plain] = await Promise.all([call(gw, 'mcp.test'), call(gw, 'plain.test')]);
  assert.equal(mcp.status, 200);
  assert.equal(mcp.body, 'late');
  assert.equal(plain.status, 504);
  assert.equal((JSON.parse(plain.body) as { error: string }).error, 'upstream_timeout');
});

test("a stream outlives the pool's idle-socket timeout; a request queued for a socket never hangs", async () => {
  const fwd = createForwarder({
    logger: pino({ level: 'silent' }),
    keepAliveTimeoutMs: 100,
    connections: 1,
    connectTimeoutMs: 300,
  });
  const up = await upstream((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.write('data: 1\n\n');
    const timer = setTimeout(() => res.end('data: 2\n\n'), 600);
    res.on('close', () => clearTimeout(timer));
  });
  const gw = await gateway([route('pool.test', [up.url])], [], fwd);
  const stream = open(gw, 'pool.test');
  stream.req.end();
  const res = await stream.response;
  const queued = await call(gw, 'pool.test'); // the only socket is busy with the stream
  assert.equal(queued.status, 502);
  let body = '';
  for await (const c of res as AsyncIterable<Buffer>) body += c.toString();
  assert.equal(body, 'data: 1\n\ndata: 2\n\n');
  fwd.close();
});

test('TE: trailers goes upstream and trailer fields come back', async () => {
  const up = await upstream((req, res) => {
    res.writeHead(200, { trailer: 'x-checksum', 'x-te-seen': String(req.headers.te) });
    res.write('body');
    res.addTrailers({ 'x-checksum': 'abc' });
    res.end();
  });
  const gw = await gateway([route('tr.test', [up.url])]);
  const { req, response } = open(gw, 'tr.test', { headers: { te: 'trailers' } });
  req.end();
  const res = await response;
  assert.equal(res.headers['x-te-seen'], 'trailers');
  res.resume();
  await once(res, 'end');
  assert.equal(res.trailers['x-checksum'], 'abc');
});

/**
 * An upstream on a raw socket that answers the first `answered` requests of each connection
 * and closes the connection on the next one without answering.
 */
async function closingUpstream(answered: number) {
  const seen = { connections: 0, requests: 0 };
  const server = createNetServer((socket) => {
    seen.connections += 1;
    let onThis = 0;
    let buffered = '';
    socket.on('data', (chunk: Buffer) => {
      buffered += chunk.toString('latin1');
      while (buffered.includes('\r\n\r\n')) {
        buffered = buffered.slice(buffered.indexOf('\r\n\r\n') + 4);
        seen.requests += 1;
        onThis += 1;
        if (onThis > answered) return void socket.destroy();
        socket.write('HTTP/1.1 200 OK\r\ncontent-length: 2\r\nkeep-alive: timeout=60\r\n\r\nok');
      }
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  after(() => server.close());
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen };
}

test('a reused connection the upstream closed is retried once on a new one; a new one is not', async () => {
  const stale = await closingUpstream(1);
  const gw = await gateway([route('stale.test', [stale.url])]);
  assert.equal((await call(gw, 'stale.test')).status, 200);
  const second = await call(gw, 'stale.test');
  assert.equal(second.status, 200, 'sent again on a new connection');
  assert.equal(second.body, 'ok');
  assert.deepEqual(stale.seen, { connections: 2, requests: 3 });

  // A connection that closes on its first request may have had the request read and acted on:
  // no second try (the route has one upstream).
  const fresh = await closingUpstream(0);
  const gw2 = await gateway([route('fresh.test', [fresh.url])]);
  assert.equal((await call(gw2, 'fresh.test')).status, 502);
  assert.deepEqual(fresh.seen, { connections: 1, requests: 1 });
});

test('an informational answer (103 Early Hints) is skipped; the final answer is relayed', async () => {
  const up = await upstream((_req, res) => {
    res.writeEarlyHints({ link: '</style.css>; rel=preload; as=style' });
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end('after the hints');
  });
  const gw = await gateway([route('hints.test', [up.url])]);
  const reply = await call(gw, 'hints.test');
  assert.equal(reply.status, 200);
  assert.equal(reply.body, 'after the hints');
});

test('a declined answer settles the forward at its head, even one that never ends', async () => {
  const up = await upstream((req, res) => {
    if (req.url === '/short') {
      res.writeHead(401, { 'www-authenticate': 'Bearer error="invalid_token"' });
      return void res.end('expired');
    }
    res.writeHead(401, { 'content-type': 'text/event-stream', 'www-authenticate': 'Bearer' });
    res.write('data: never ends\n\n');
  });
  const front = createServer((req, res) => {
    void forwarder
      .forward(req, res, {
        upstreams: [new URL(up.url)],
        path: () => req.url ?? '/',
        headers: {},
        timeoutMs: null,
        idleTimeoutMs: null,
        isMcpPost: false,
        decline: (head) => head.status === 401,
      })
      .then((result) => res.end(`declined ${JSON.stringify(result.declined)}`));
  });
  servers.push(front);
  const base = await listen(front);
  const short = await call(base, 'declined.test', { path: '/short' });
  assert.equal(
    short.body,
    `declined ${JSON.stringify({ status: 401, wwwAuthenticate: 'Bearer error="invalid_token"' })}`,
  );
  const endless = await call(base, 'declined.test', { path: '/stream' });
  assert.equal(
    endless.body,
    `declined ${JSON.stringify({ status: 401, wwwAuthenticate: 'Bearer' })}`,
  );
});
