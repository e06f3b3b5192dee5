/**
 * Issue 8, the edge: stalled requests and the per-address connection cap (defect 5), sign-out
 * only by a same-origin POST (13), readiness of `portcullis dev` (14, and a SIGTERM during its
 * start-up), and the embedded servers host checking the assertion's `aud` (15).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { once } from 'node:events';
import { createServer, request, type IncomingMessage } from 'node:http';
import { connect, type AddressInfo, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { AssertionSigner } from '../src/assertion/sign.js';
import { hashPassword } from '../src/core/crypto.js';
import { openStorage } from '../src/storage/open.js';
import type { Storage } from '../src/storage/types.js';
import { launchChromium } from './support/chromium.js';
import { CookieJar, follow, type Hop } from './support/cookie-jar.js';
import { startTestDevSystem, type TestDevSystem } from './support/dev-system.js';
import {
  cookie,
  freePort,
  gatewayYamlHead,
  openStream,
  send,
  signIn,
  startTestGateway,
  type TestGateway,
} from './support/gateway.js';
import { startJsonRpcUpstream, type JsonRpcUpstream } from './support/jsonrpc-upstream.js';
import { fromRoot } from './support/paths.js';

const EMAIL = 'ada@example.com';
const PASSWORD = 'edge-tests-password';
/** Short on purpose: every wait below is a small multiple of these. */
const READ_MS = 400;
const IDLE_MS = 1000;
const CAP = 3;

interface RawAnswer {
  readonly text: string;
  /** The gateway closed the connection (within the wait). */
  readonly closed: boolean;
  readonly ms: number;
}

/** Writes `head` (and later `more`) on a fresh TCP connection; collects what comes back. */
function raw(
  port: number,
  head: string,
  options: { waitMs?: number; localAddress?: string } = {},
): Promise<RawAnswer> {
  const started = performance.now();
  return new Promise((resolve) => {
    const socket: Socket = connect({ port, host: '127.0.0.1', localAddress: options.localAddress });
    let text = '';
    const done = (closed: boolean) => {
      clearTimeout(timer);
      socket.destroy();
      resolve({ text, closed, ms: performance.now() - started });
    };
    const timer = setTimeout(() => done(false), options.waitMs ?? 3_000);
    socket.on('connect', () => {
      if (head) socket.write(head);
    });
    socket.on('data', (c: Buffer) => (text += c.toString('latin1')));
    socket.on('error', () => {});
    socket.on('close', () => done(true));
  });
}

/** A POST that declares 1000 bytes and sends 15, then nothing. */
const stalledPost = (port: number, path: string, headers: Record<string, string>) =>
  [
    `POST ${path} HTTP/1.1`,
    `Host: localhost:${port}`,
    'Content-Length: 1000',
    ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`),
    '',
    '{"client_name":',
  ].join('\r\n');

describe('stalled requests, streamed bodies and the connection cap', () => {
  let upstream: JsonRpcUpstream;
  let gw: TestGateway;
  let session: string;

  before(async () => {
    upstream = await startJsonRpcUpstream();
    const hash = await hashPassword(PASSWORD);
    gw = await startTestGateway(
      (port) => `
${gatewayYamlHead(port)}
databroker_storage_type: memory
timeout_read: ${READ_MS}ms
timeout_idle: ${IDLE_MS}ms
max_connections_per_address: ${CAP}
builtin_users:
  - { email: ${EMAIL}, name: Ada, password_hash: '${hash}' }
routes:
  - from: http://localhost:${port}
    prefix: /mcp
    to: ${upstream.url}/mcp
    allow_any_authenticated_user: true
    mcp: { server: {} }
  - from: http://localhost:${port}
    prefix: /upload
    to: ${upstream.url}/upload
    allow_public_unauthenticated_access: true
`,
    );
    session = await signIn(gw.origin, EMAIL, PASSWORD);
  });
  after(async () => {
    await gw?.close();
    await upstream?.close();
  });

  /** Asserts a 408 came back and the gateway then closed the connection, soon. */
  function assertTimedOut(answer: RawAnswer, label: string) {
    assert.match(answer.text, /^HTTP\/1\.1 408 /, `${label}: ${JSON.stringify(answer.text)}`);
    assert.ok(answer.closed, `${label}: the connection stayed open`);
    assert.ok(answer.ms < READ_MS + 1_500, `${label}: took ${Math.round(answer.ms)} ms`);
  }

  it('a body that stalls on /register, /token, the sign-in form or an MCP POST gets 408', async () => {
    const jar = new CookieJar();
    const form = (await follow(jar, `${gw.origin}/`)).at(-1) as Hop;
    assert.match(form.url.pathname, /\/interaction\//);
    const json = { 'Content-Type': 'application/json' };
    const urlencoded = { 'Content-Type': 'application/x-www-form-urlencoded' };
    const cases: [string, string, Record<string, string>][] = [
      ['register', '/.pomerium/mcp/register', json],
      ['token', '/.pomerium/mcp/token', urlencoded],
      ['sign-in', form.url.pathname, { ...urlencoded, Cookie: jar.header(form.url) ?? '' }],
      [
        'mcp',
        '/mcp',
        { ...json, Accept: 'application/json, text/event-stream', ...cookie(session) },
      ],
    ];
    const answers = await Promise.all(
      // Each from its own address, so the connection cap is not what answers.
      cases.map(([, path, headers], i) =>
        raw(gw.port, stalledPost(gw.port, path, headers), { localAddress: `127.0.0.${10 + i}` }),
      ),
    );
    answers.forEach((a, i) => assertTimedOut(a, cases[i]![0]));
    const errors = gw.logs.lines().filter((l) => Number(l.level) >= 50);
    assert.deepEqual(errors, [], 'a timed-out body is not an unhandled error');
    // The gateway keeps serving.
    assert.equal((await send(gw.origin, { path: '/healthz' })).status, 200);
  });

  it('headers that stall, and a connection that never sends a request, are closed', async () => {
    const [headers, silent] = await Promise.all([
      raw(gw.port, 'GET /healthz HTTP/1.1\r\nHost: localhost\r\n'),
      raw(gw.port, ''),
    ]);
    assertTimedOut(headers, 'stalled headers');
    assert.ok(silent.closed, 'a silent connection stayed open');
    assert.ok(silent.ms < READ_MS + 1_500, `silent connection closed after ${silent.ms} ms`);
  });

  it('an idle keep-alive connection is closed after timeout_idle', async () => {
    const answer = await raw(gw.port, 'GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n', {
      waitMs: IDLE_MS + 2_000,
    });
    assert.match(answer.text, /^HTTP\/1\.1 200 /);
    assert.ok(answer.closed, 'the idle connection stayed open');
    assert.ok(answer.ms >= IDLE_MS - 100, `closed after ${Math.round(answer.ms)} ms`);
  });

  it('a body streamed to an upstream may be slow but steady; a stalled one gets 408', async () => {
    upstream.fresh();
    const chunks = Array.from({ length: 6 }, (_, i) => `"part-${i}",`);
    const slow = await streamUpload(gw.port, chunks, READ_MS / 2);
    assert.equal(slow.statusCode, 200);
    assert.equal(upstream.requests[0]?.body, chunks.join(''), 'the upstream got every chunk');

    const stalled = await raw(
      gw.port,
      `POST /upload HTTP/1.1\r\nHost: localhost:${gw.port}\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n`,
    );
    assertTimedOut(stalled, 'stalled streamed body');
  });

  it('a long-lived SSE stream outlives timeout_read and timeout_idle', async () => {
    upstream.fresh();
    const stream = await openStream(gw.origin, {
      path: '/mcp',
      headers: { accept: 'text/event-stream', ...cookie(session) },
    });
    assert.equal(stream.status, 200);
    const held = await upstream.nextHeldStream();
    await new Promise((r) => setTimeout(r, IDLE_MS + READ_MS));
    held.send({ jsonrpc: '2.0', method: 'notifications/message', params: { late: true } });
    const event = await stream.next((e) => JSON.stringify(e.data).includes('late'));
    assert.ok(event);
    assert.equal(stream.isEnded(), false);
    stream.abort();
  });

  it(`refuses more than ${CAP} connections from one address, and takes new ones when they close`, async () => {
    upstream.fresh();
    // From 127.0.0.2: other tests' connections (from 127.0.0.1) do not count.
    const from = '127.0.0.2';
    const streams = [];
    for (let i = 0; i < CAP; i++) {
      streams.push(
        await openStream(gw.origin, {
          path: '/mcp',
          headers: { accept: 'text/event-stream', ...cookie(session) },
          localAddress: from,
        }),
      );
      await upstream.nextHeldStream();
    }
    assert.deepEqual(
      streams.map((s) => s.status),
      Array(CAP).fill(200),
    );
    const refused = await raw(gw.port, 'GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n', {
      localAddress: from,
    });
    assert.equal(refused.text, '', 'the connection over the cap got no answer');
    assert.ok(refused.closed && refused.ms < 1_000, 'and was closed at once');
    // Another address is not affected.
    assert.equal((await send(gw.origin, { path: '/healthz' })).status, 200);
    streams[0]!.abort();
    await streams[0]!.ended;
    await new Promise((r) => setTimeout(r, 100));
    const again = await raw(
      gw.port,
      'GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n',
      { localAddress: from },
    );
    assert.match(again.text, /^HTTP\/1\.1 200 /);
    for (const s of streams) s.abort();
  });

  describe('sign-out', () => {
    const signOut = (s: string, headers: Record<string, string>) =>
      send(gw.origin, {
        method: 'POST',
        path: '/.pomerium/sign_out',
        headers: { ...cookie(s), ...headers },
      });
    const signedIn = async (s: string) =>
      (await send(gw.origin, { path: '/.pomerium/user', headers: cookie(s) })).status === 200;

    it('GET shows a confirmation page that posts, and leaves the session alone', async () => {
      const s = await signIn(gw.origin, EMAIL, PASSWORD);
      const page = await send(gw.origin, { path: '/.pomerium/sign_out', headers: cookie(s) });
      assert.equal(page.status, 200, page.body);
      assert.match(String(page.headers['content-type']), /^text\/html/);
      assert.match(page.body, /<form method="post" action="\/\.pomerium\/sign_out">/);
      const csp = String(page.headers['content-security-policy']);
      assert.match(csp, /default-src 'none'/);
      assert.match(csp, /frame-ancestors 'none'/);
      assert.equal(page.headers['set-cookie'], undefined);
      assert.ok(await signedIn(s), 'a GET did not end the session');
    });

    it('a POST from another origin, or with no origin at all, is refused', async () => {
      const s = await signIn(gw.origin, EMAIL, PASSWORD);
      const refusals: Record<string, string>[] = [
        { origin: 'http://evil.example' },
        { origin: `http://localhost:${gw.port + 1}` },
        { origin: 'null', 'sec-fetch-site': 'cross-site' },
        { 'sec-fetch-site': 'same-site' },
        {},
      ];
      for (const headers of refusals) {
        const res = await signOut(s, headers);
        assert.equal(res.status, 403, `${JSON.stringify(headers)}: ${res.status}`);
      }
      assert.ok(await signedIn(s), 'the session survived every refused sign-out');
    });

    it('a same-origin POST signs out (Origin, or Sec-Fetch-Site when Origin is null)', async () => {
      const accepted: Record<string, string>[] = [
        { origin: gw.origin },
        { origin: 'null', 'sec-fetch-site': 'same-origin' },
        { 'sec-fetch-site': 'same-origin' },
      ];
      for (const headers of accepted) {
        const s = await signIn(gw.origin, EMAIL, PASSWORD);
        const res = await signOut(s, headers);
        assert.equal(res.status, 302, `${JSON.stringify(headers)}: ${res.body}`);
        assert.equal(await signedIn(s), false, JSON.stringify(headers));
      }
    });

    it('in Chromium: another site cannot sign out by link or form; the confirmation page can', async () => {
      // The other site: 127.0.0.1 is not the gateway's host (localhost), so cross-site.
      const evil = createServer((req, res) => {
        const target = `${gw.origin}/.pomerium/sign_out`;
        res.writeHead(200, { 'content-type': 'text/html' });
        res.end(
          req.url === '/form'
            ? `<form id="f" method="post" action="${target}"></form><script>f.submit()</script>`
            : `<a id="a" href="${target}">win a prize</a>`,
        );
      });
      evil.listen(0, '127.0.0.1');
      await once(evil, 'listening');
      const evilOrigin = `http://127.0.0.1:${(evil.address() as AddressInfo).port}`;
      const browser = await launchChromium();
      try {
        const context = await browser.newContext();
        const page = await context.newPage();
        const cspErrors: string[] = [];
        page.on('console', (m) => {
          if (/Content Security Policy/i.test(m.text())) cspErrors.push(m.text());
        });
        const userStatus = async () =>
          (await context.request.get(`${gw.origin}/.pomerium/user`)).status();
        await page.goto(`${gw.origin}/`);
        await page.getByLabel('Email').fill(EMAIL);
        await page.getByLabel('Password').fill(PASSWORD);
        await page.getByRole('button', { name: 'Sign in' }).click();
        await page.getByText('Signed in as').waitFor();

        const posted = page.waitForResponse((r) => r.url().endsWith('/.pomerium/sign_out'));
        await page.goto(`${evilOrigin}/form`);
        assert.equal((await posted).status(), 403);
        assert.equal(await userStatus(), 200, 'a cross-site form POST did not sign out');

        await page.goto(`${evilOrigin}/`);
        await page.click('#a');
        await page.getByRole('button', { name: 'Sign out' }).waitFor();
        assert.equal(await userStatus(), 200, 'a cross-site link did not sign out');

        // The confirmation page's own button does.
        await page.getByRole('button', { name: 'Sign out' }).click();
        // The built-in provider's login session ends with the gateway's (no second confirmation
        // at the provider): the next page asks for the password again.
        await page.getByLabel('Password').waitFor();
        assert.equal(await userStatus(), 401);
        assert.deepEqual(cspErrors, []);
      } finally {
        await browser.close();
        await new Promise((r) => evil.close(r));
      }
    });
  });
});

/** POSTs `chunks` (chunked) to /upload, one every `everyMs`. */
function streamUpload(port: number, chunks: string[], everyMs: number): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port, path: '/upload', method: 'POST', agent: false },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res));
      },
    );
    req.setHeader('host', `localhost:${port}`);
    req.on('error', reject);
    let i = 0;
    const next = () => {
      if (i === chunks.length) return void req.end();
      req.write(chunks[i++]);
      setTimeout(next, everyMs);
    };
    next();
  });
}

describe('npm start: ready means ready, and /whoami checks aud', () => {
  const email = 'grace@example.com';
  const password = 'ready-tests-password';
  let dev: TestDevSystem;
  /** Every /healthz and /readyz answer seen while the system started, in order. */
  const seen: { path: string; status: number; started: boolean }[] = [];
  let firstReadySignIn: Promise<string> | undefined;

  before(async () => {
    const port = await freePort();
    let started = false;
    let polling = true;
    const poll = (async () => {
      while (polling) {
        for (const path of ['/healthz', '/readyz']) {
          const status = await probe(port, path);
          if (status === 0) continue; // not listening yet
          seen.push({ path, status, started });
          // A sign-in the moment the gateway says it is ready.
          if (status === 200 && !firstReadySignIn) {
            firstReadySignIn = signIn(`http://localhost:${port}`, email, password);
            firstReadySignIn.catch(() => {});
          }
        }
        if (started && firstReadySignIn) polling = false;
      }
    })();
    dev = await startTestDevSystem({ email, password, dirPrefix: 'portcullis-edge', port });
    started = true;
    await poll;
  });
  after(async () => {
    await dev?.close();
  });

  it('/healthz and /readyz answer 503 until the user exists; a sign-in at the first 200 works', async () => {
    assert.ok(seen.length > 0);
    const early = seen.filter((s) => s.status === 200 && !s.started);
    assert.deepEqual(early, [], 'answered 200 before start-up was complete');
    assert.ok(
      seen.every((s) => s.status === 200 || s.status === 503),
      JSON.stringify(seen),
    );
    assert.ok(firstReadySignIn);
    assert.ok((await firstReadySignIn).length > 0);
  });

  it('the servers host refuses an assertion signed by the gateway for another audience', async () => {
    const { system, dataDir } = dev;
    const secrets = JSON.parse(readFileSync(join(dataDir, 'secrets.json'), 'utf8')) as {
      shared_secret: string;
    };
    let storage: Storage | undefined;
    try {
      storage = await openStorage({ type: 'sqlite', file: join(dataDir, 'portcullis.db') });
      const signer = await AssertionSigner.create({
        store: storage.signingKeys,
        sharedSecret: secrets.shared_secret,
      });
      const assertion = (audience: string) =>
        signer.sign({
          issuer: 'localhost',
          audience,
          sub: 'user-1',
          email,
          name: 'Grace',
          groups: [],
          sid: 'sid-1',
        });
      const call = async (token: string) => {
        const res = await fetch(`${system.serversUrl}/whoami`, {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            accept: 'application/json, text/event-stream',
            'x-pomerium-jwt-assertion': token,
          },
          body: JSON.stringify({
            jsonrpc: '2.0',
            id: 1,
            method: 'tools/call',
            params: { name: 'whoami', arguments: {} },
          }),
        });
        return res.text();
      };
      assert.match(await call(await assertion('localhost')), /grace@example\.com/);
      const wrong = await call(await assertion('db.example.com'));
      assert.doesNotMatch(wrong, /grace@example\.com/, 'an assertion for another audience');
      assert.match(wrong, /ERR_ASSERTION_INVALID/);
    } finally {
      await storage?.close();
    }
  });
});

/** The status of GET `path`, or 0 when nothing listens yet. */
function probe(port: number, path: string): Promise<number> {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, path, agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', () => setTimeout(() => resolve(0), 5));
    req.end();
  });
}

describe('portcullis dev and SIGTERM', () => {
  it('a SIGTERM during start-up stops it cleanly (exit 0)', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'portcullis-sigterm-'));
    try {
      const child = spawn(process.execPath, [fromRoot('bin', 'portcullis.js'), 'dev'], {
        env: {
          PATH: process.env.PATH ?? '',
          PORT: '0',
          PORTCULLIS_DATA_DIR: dataDir,
          LOG_LEVEL: 'warn',
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let output = '';
      child.stdout.on('data', (c: Buffer) => (output += c.toString()));
      child.stderr.on('data', (c: Buffer) => (output += c.toString()));
      const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
      // secrets.json is the first thing start-up writes: the system is starting, not up.
      const secrets = join(dataDir, 'secrets.json');
      for (let i = 0; i < 1_000 && !existsSync(secrets); i++) {
        await new Promise((r) => setTimeout(r, 5));
      }
      assert.ok(existsSync(secrets), output);
      assert.doesNotMatch(output, /Portcullis is up/);
      child.kill('SIGTERM');
      assert.equal(await exited, 0, output);
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
