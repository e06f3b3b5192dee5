/**
 * Issue 8, defect 9: the Client ID Metadata Document fetch refuses non-public addresses before
 * it opens a connection (in every spelling of the address, and for names that resolve to one),
 * and fetches a document once per use. Defect 15: a client that hangs up while its request body
 * is being read is not a server error.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { startCimdHost, type CimdHost } from './support/cimd-host.js';
import { follow, type Hop } from './support/cookie-jar.js';
import { authorizationUrl, pkce, tokenRequest } from './support/oauth-flow.js';
import { startRealGateway, type RealGateway } from './support/real-gateway.js';
import { createTestCa, type TestCa } from './support/test-ca.js';

const REDIRECT = 'http://127.0.0.1:53682/callback';

const document = (clientId: string, extra: Record<string, unknown> = {}) => ({
  client_id: clientId,
  client_name: 'hardening test client',
  redirect_uris: [REDIRECT],
  token_endpoint_auth_method: 'none',
  ...extra,
});

interface Answer {
  readonly status: number;
  readonly location: string | null;
  readonly body: string;
  readonly ms: number;
}

async function authorize(origin: string, clientId: string): Promise<Answer> {
  const started = performance.now();
  const url = authorizationUrl(origin, {
    client_id: clientId,
    redirect_uri: REDIRECT,
    code_challenge: pkce().challenge,
    resource: `${origin}/whoami`,
  });
  const res = await fetch(url, { redirect: 'manual' });
  const body = await res.text();
  return {
    status: res.status,
    location: res.headers.get('location'),
    body,
    ms: performance.now() - started,
  };
}

/** A TCP listener on 127.0.0.1 and ::1 (one port) that only records who connected. */
interface Recorder {
  readonly port: number;
  connections(): number;
  close(): Promise<void>;
}

async function listen(server: Server, port: number, host: string): Promise<void> {
  server.listen(port, host);
  await Promise.race([
    once(server, 'listening'),
    once(server, 'error').then(([err]) => Promise.reject(err as Error)),
  ]);
}

async function startRecorder(): Promise<Recorder> {
  let count = 0;
  const sockets = new Set<Socket>();
  const record = (socket: Socket) => {
    count++;
    sockets.add(socket);
    socket.on('error', () => {});
  };
  for (;;) {
    const v4 = createServer(record);
    const v6 = createServer(record);
    await listen(v4, 0, '127.0.0.1');
    const { port } = v4.address() as { port: number };
    try {
      await listen(v6, port, '::1');
    } catch {
      v4.close();
      continue; // the port is taken on ::1: try another
    }
    return {
      port,
      connections: () => count,
      close: async () => {
        for (const s of sockets) s.destroy();
        await Promise.all([v4, v6].map((s) => new Promise((resolve) => s.close(resolve))));
      },
    };
  }
}

describe('metadata-document fetches refuse non-public addresses before connecting', () => {
  let recorder: Recorder;
  let gw: RealGateway;

  before(async () => {
    recorder = await startRecorder();
    // Both names allowed as document hosts, neither exempt from the address guard.
    gw = await startRealGateway('mcp_allowed_client_id_domains: [127.0.0.1, localhost]');
  });
  after(async () => {
    await gw?.close();
    await recorder?.close();
  });

  const spellings = (port: number) => [
    `https://127.0.0.1:${port}/doc.json`,
    `https://2130706433:${port}/doc.json`,
    `https://0x7f.1:${port}/doc.json`,
    `https://0177.0.0.1:${port}/doc.json`,
    `https://127.1:${port}/doc.json`,
    `https://[::1]:${port}/doc.json`,
    `https://[::ffff:127.0.0.1]:${port}/doc.json`,
    // A name that resolves to a loopback address.
    `https://localhost:${port}/doc.json`,
  ];

  it('answers the authorization request with an error page and opens no connection', async () => {
    for (const clientId of spellings(recorder.port)) {
      const before = recorder.connections();
      const answer = await authorize(gw.origin, clientId);
      assert.equal(recorder.connections(), before, `${clientId}: a connection was opened`);
      assert.equal(answer.location, null, `${clientId}: redirected`);
      assert.equal(
        answer.status,
        400,
        `${clientId}: ${answer.status} ${answer.body.slice(0, 200)}`,
      );
      assert.match(answer.body, /Authorization failed/, clientId);
      assert.ok(answer.ms < 1500, `${clientId}: took ${Math.round(answer.ms)} ms`);
    }
    // Refused by the address guard (the IPv6 spellings are not allowed hosts to begin with).
    assert.match(gw.logText(), /127\.0\.0\.1 is at a non-public address \(127\.0\.0\.1\)/);
    assert.match(gw.logText(), /localhost is at a non-public address \(127\.0\.0\.1\)/);
  });

  it('answers the token endpoint with invalid_client and opens no connection', async () => {
    for (const clientId of spellings(recorder.port)) {
      const before = recorder.connections();
      const answer = await tokenRequest(gw.origin, {
        grant_type: 'authorization_code',
        code: 'not-a-code',
        code_verifier: pkce().verifier,
        redirect_uri: REDIRECT,
        client_id: clientId,
      });
      assert.equal(recorder.connections(), before, `${clientId}: a connection was opened`);
      // RFC 6749 §5.2: 400, or 401 when the client authenticated through a header.
      assert.equal(answer.status, 400, `${clientId}: ${JSON.stringify(answer.body)}`);
      assert.equal(answer.body.error, 'invalid_client', clientId);
    }
  });
});

describe('metadata documents are fetched once per use', () => {
  let ca: TestCa;
  let docs: CimdHost;
  let gw: RealGateway;

  before(async () => {
    ca = createTestCa();
    docs = await startCimdHost(ca);
    gw = await startRealGateway(
      'mcp_allowed_client_id_domains: [localhost]\nmcp_allowed_private_hosts: [localhost]',
      { cimdFetch: { ca: ca.caPem } },
    );
  });
  after(async () => {
    await gw?.close();
    await docs?.close();
    ca?.remove();
  });

  it('a refused document is fetched exactly once', async () => {
    const mismatch = docs.url('/once/mismatch.json');
    docs.serve('/once/mismatch.json', document(docs.url('/once/elsewhere.json')));
    const big = docs.url('/once/big.json');
    docs.serve('/once/big.json', document(big, { contacts: ['x'.repeat(6 * 1024)] }));
    const missing = docs.url('/once/missing.json');
    for (const [url, path] of [
      [mismatch, '/once/mismatch.json'],
      [big, '/once/big.json'],
      [missing, '/once/missing.json'],
    ] as const) {
      const answer = await authorize(gw.origin, url);
      assert.equal(answer.status, 400, `${path}: ${answer.status}`);
      assert.equal(answer.location, null, path);
      assert.equal(docs.fetches(path), 1, `${path} fetched ${docs.fetches(path)} times`);
    }
  });

  it('an accepted document is fetched once, then served from the cache', async () => {
    const url = docs.url('/once/good.json');
    docs.serve('/once/good.json', document(url), { 'cache-control': 'max-age=300' });
    for (let i = 0; i < 2; i++) {
      const answer = await authorize(gw.origin, url);
      assert.equal(answer.status, 303, `${answer.status} ${answer.body.slice(0, 200)}`);
      assert.match(answer.location ?? '', /\/\.pomerium\/mcp\/interaction\//);
    }
    assert.equal(docs.fetches('/once/good.json'), 1);
  });
});

describe('the checked address is connected to under the URL host name', () => {
  let ca: TestCa;
  let docs: CimdHost;
  let gw: RealGateway;

  before(async () => {
    // A certificate for the name only: a connection verified against the address would fail.
    ca = createTestCa('DNS:localhost');
    docs = await startCimdHost(ca);
    gw = await startRealGateway(
      'mcp_allowed_client_id_domains: [localhost]\nmcp_allowed_private_hosts: [localhost]',
      { cimdFetch: { ca: ca.caPem } },
    );
  });
  after(async () => {
    await gw?.close();
    await docs?.close();
    ca?.remove();
  });

  it('TLS checks the certificate against the name (SNI too), not the address', async () => {
    const url = docs.url('/sni/client.json');
    docs.serve('/sni/client.json', document(url));
    const answer = await authorize(gw.origin, url);
    assert.equal(answer.status, 303, `${answer.status} ${answer.body.slice(0, 200)}`);
    assert.equal(docs.fetches('/sni/client.json'), 1);
    assert.deepEqual(docs.serverNames(), ['localhost']);
  });
});

describe('a client that hangs up while its body is read is not a server error', () => {
  let gw: RealGateway;

  before(async () => {
    gw = await startRealGateway('');
  });
  after(async () => {
    await gw?.close();
  });

  const errorLines = () =>
    gw
      .logText()
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as { level: number; msg: string; req_id?: string })
      .filter((l) => l.level >= 50);

  /**
   * Sends the head of a POST whose Content-Length promises more than follows, then closes the
   * connection once the gateway has had time to start reading the body.
   */
  async function sendAndHangUp(path: string, headers: Record<string, string>, partial: string) {
    const port = Number(new URL(gw.origin).port);
    const socket = connect(port, '127.0.0.1');
    await once(socket, 'connect');
    const head = Object.entries({ host: `localhost:${port}`, ...headers, 'content-length': '1000' })
      .map(([k, v]) => `${k}: ${v}\r\n`)
      .join('');
    socket.write(`POST ${path} HTTP/1.1\r\n${head}\r\n${partial}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
    socket.destroy();
  }

  /** As `sendAndHangUp`, then waits for the gateway to log something about the request. */
  async function hangUp(path: string, headers: Record<string, string>, partial: string) {
    const id = `hangup-${Math.random().toString(36).slice(2)}`;
    await sendAndHangUp(path, { 'x-request-id': id, ...headers }, partial);
    const deadline = Date.now() + 2000;
    while (!gw.logText().includes(id) && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    assert.ok(gw.logText().includes(id), `${path}: nothing was logged about the request`);
  }

  it('/register: no error line, and the gateway keeps serving', async () => {
    await hangUp(
      '/.pomerium/mcp/register',
      { 'content-type': 'application/json' },
      '{"redirect_uris":',
    );
    assert.deepEqual(errorLines(), []);
    assert.equal((await fetch(`${gw.origin}/healthz`)).status, 200);
  });

  it('/token: no error line', async () => {
    await hangUp(
      '/.pomerium/mcp/token',
      { 'content-type': 'application/x-www-form-urlencoded' },
      'grant_type=authorization_code&co',
    );
    assert.deepEqual(errorLines(), []);
  });

  it('the sign-in form: no error line', async () => {
    // A live interaction of the built-in provider (its cookie and URL).
    const hops = await follow(gw.jar, `${gw.origin}/`);
    const form = hops.at(-1) as Hop;
    assert.match(form.url.pathname, /\/interaction\//, form.body);
    await hangUp(
      form.url.pathname,
      { 'content-type': 'application/x-www-form-urlencoded', cookie: gw.jar.header(form.url) },
      'email=lin%40example.com&pass',
    );
    assert.deepEqual(errorLines(), []);
  });

  it('bodies oidc-provider reads (/revoke, the built-in provider): nothing printed as an error', async () => {
    const printed: unknown[][] = [];
    const original = console.error;
    console.error = (...args: unknown[]) => void printed.push(args);
    try {
      const form = { 'content-type': 'application/x-www-form-urlencoded' };
      for (const path of ['/.pomerium/mcp/revoke', '/.pomerium/idp/token']) {
        await sendAndHangUp(path, form, 'token=abc&tok');
        // A complete request after it, so the hang-up has been dealt with.
        await fetch(`${gw.origin}${path}`, { method: 'POST', headers: form, body: 'token=x' });
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    } finally {
      console.error = original;
    }
    assert.deepEqual(
      printed.map((args) => args.map(String).join(' ')),
      [],
    );
    assert.deepEqual(errorLines(), []);
  });
});
