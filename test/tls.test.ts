/**
 * Issue 11, TLS: the gateway serves several certificates chosen by SNI (exact names and one-label
 * wildcards, the first configured as default), from files and from base64 values, follows files
 * replaced while it runs (a broken replacement keeps the old certificate and logs one error),
 * speaks HTTP/1.1 only, and answers plain HTTP on `http_redirect_addr` with redirects to HTTPS
 * (ACME challenge paths 404 without autocert), under the main listener’s limits.
 * Real TLS over loopback, certificates from one test CA.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { connect as tcpConnect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { connect as tlsConnect, type PeerCertificate } from 'node:tls';
import { after, before, describe, it } from 'node:test';
import { parseConfig } from '../src/config/load.js';
import { startGateway, type Gateway } from '../src/http/gateway.js';
import {
  TEST_COOKIE_SECRET,
  TEST_SHARED_SECRET,
  captureLogs,
  freePort,
  send,
  type LogCapture,
} from './support/gateway.js';
import { createTestCa, type IssuedCertificate, type TestCa } from './support/test-ca.js';

const READ_MS = 1_000;
const CAP = 3;

interface Handshake {
  readonly cert: PeerCertificate;
  readonly alpn: string | false;
}

describe('TLS: certificates by SNI, followed files, HTTP/1.1, http_redirect_addr', () => {
  let ca: TestCa;
  let a: IssuedCertificate;
  let wildcard: IssuedCertificate;
  let inline: IssuedCertificate;
  let dir: string;
  let port: number;
  let redirectPort: number;
  let gateway: Gateway;
  let logs: LogCapture;

  const path = (name: string) => join(dir, name);
  /** Replaces a file as deploy tools do: written aside, renamed over. */
  const replace = (name: string, text: string) => {
    writeFileSync(path(`${name}.new`), text);
    renameSync(path(`${name}.new`), path(name));
  };

  /**
   * A TLS handshake with the gateway on 127.0.0.1, naming `servername` (SNI) or nothing. The
   * chain is always verified against the test CA; the name too unless `anyName` (a default
   * certificate is not for the name asked).
   */
  function handshake(
    servername: string | undefined,
    { alpn = ['http/1.1'], anyName = false } = {},
  ): Promise<Handshake> {
    return new Promise((resolve, reject) => {
      const socket = tlsConnect({
        host: '127.0.0.1',
        port,
        ca: ca.caPem,
        ALPNProtocols: alpn,
        ...(servername ? { servername } : {}),
        ...(anyName || !servername ? { checkServerIdentity: () => undefined } : {}),
      });
      socket.once('secureConnect', () => {
        resolve({ cert: socket.getPeerCertificate(), alpn: socket.alpnProtocol ?? false });
        socket.end();
      });
      socket.once('error', reject);
    });
  }

  before(async () => {
    ca = createTestCa('DNS:localhost,IP:127.0.0.1');
    a = ca.issue('DNS:a.example.test');
    wildcard = ca.issue('DNS:*.b.example.test');
    inline = ca.issue('DNS:inline.example.test');
    dir = mkdtempSync(join(tmpdir(), 'portcullis-tls-'));
    for (const [name, pem] of [
      ['default.crt', ca.certPem],
      ['default.key', ca.keyPem],
      ['a.crt', a.certPem],
      ['a.key', a.keyPem],
      ['wild.crt', wildcard.certPem],
      ['wild.key', wildcard.keyPem],
    ] as const) {
      writeFileSync(path(name), pem);
    }
    port = await freePort();
    redirectPort = await freePort();
    const b64 = (text: string) => Buffer.from(text).toString('base64');
    const yaml = `
address: 127.0.0.1:${port}
http_redirect_addr: 127.0.0.1:${redirectPort}
certificate_file: ${path('default.crt')}
certificate_key_file: ${path('default.key')}
certificates:
  - { cert: ${path('a.crt')}, key: ${path('a.key')} }
  - { cert: ${path('wild.crt')}, key: ${path('wild.key')} }
certificate: ${b64(inline.certPem)}
certificate_key: ${b64(inline.keyPem)}
shared_secret: ${TEST_SHARED_SECRET}
cookie_secret: ${TEST_COOKIE_SECRET}
idp_provider: builtin
databroker_storage_type: memory
timeout_read: ${READ_MS}ms
max_connections_per_address: ${CAP}
routes:
  - from: https://routed.example.test
    to: http://127.0.0.1:9
    allow_public_unauthenticated_access: true
  - from: https://a.example.test:${port}
    to: http://127.0.0.1:9
    allow_public_unauthenticated_access: true
`;
    const { config } = parseConfig(yaml, 'tls-test.yaml', {});
    logs = captureLogs();
    gateway = await startGateway({ config, logger: logs.logger });
  });
  after(async () => {
    await gateway?.close();
    ca?.remove();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('SNI picks each host’s certificate; no name, or an unknown one, gets the first', async () => {
    const served = async (name: string | undefined) => (await handshake(name)).cert;
    assert.equal((await served('a.example.test')).subjectaltname, 'DNS:a.example.test');
    assert.equal((await served('A.Example.Test')).subjectaltname, 'DNS:a.example.test');
    assert.equal((await served('x.b.example.test')).subjectaltname, 'DNS:*.b.example.test');
    assert.equal((await served('localhost')).subjectaltname, 'DNS:localhost, IP Address:127.0.0.1');
    const first = await served('inline.example.test');
    assert.equal(first.subject.CN, 'inline.example.test');
    // Pomerium's order: `certificate` comes first, so it is the default.
    for (const name of [undefined, 'unknown.example.test', 'deep.x.b.example.test']) {
      const { cert } = await handshake(name, { anyName: true });
      assert.equal(cert.fingerprint256, first.fingerprint256, String(name));
    }
  });

  it('HTTP/1.1 only: ALPN never selects h2', async () => {
    assert.equal(
      (await handshake('a.example.test', { alpn: ['h2', 'http/1.1'] })).alpn,
      'http/1.1',
    );
    const h2Only = await handshake('a.example.test', { alpn: ['h2'] }).then(
      (h) => h.alpn,
      (err: NodeJS.ErrnoException) => err.code,
    );
    assert.ok(
      h2Only === false || h2Only === 'ERR_SSL_TLSV1_ALERT_NO_APPLICATION_PROTOCOL',
      String(h2Only),
    );
    const res = await new Promise<{ status: number; version: string }>((resolve, reject) => {
      const req = httpsRequest(
        { host: '127.0.0.1', port, servername: 'a.example.test', ca: ca.caPem, path: '/healthz' },
        (r) => {
          r.resume();
          resolve({ status: r.statusCode ?? 0, version: r.httpVersion });
        },
      );
      req.setHeader('host', `a.example.test:${port}`);
      req.on('error', reject).end();
    });
    assert.deepEqual(res, { status: 200, version: '1.1' });
  });

  it('a certificate file replaced while running is served within 10 s, no restart', async () => {
    const next = ca.issue('DNS:a.example.test');
    const before = (await handshake('a.example.test')).cert.fingerprint256;
    const started = performance.now();
    replace('a.key', next.keyPem);
    replace('a.crt', next.certPem);
    let now = before;
    while (now === before && performance.now() - started < 15_000) {
      await sleep(250);
      now = (await handshake('a.example.test')).cert.fingerprint256;
    }
    const ms = Math.round(performance.now() - started);
    assert.notEqual(now, before, `still the old certificate after ${ms} ms`);
    assert.ok(ms < 10_000, `took ${ms} ms`);
    assert.ok(
      logs.lines().some((l) => l.msg === 'certificate reloaded from its files'),
      'the reload is logged',
    );
  });

  it('a broken replacement keeps the old certificate and logs one error', async () => {
    const served = (await handshake('x.b.example.test')).cert.fingerprint256;
    const errors = () =>
      logs.lines().filter((l) => l.level === 50 && l.cert_file === path('wild.crt'));
    replace('wild.crt', '-----BEGIN CERTIFICATE-----\ntruncated');
    const started = performance.now();
    while (errors().length === 0 && performance.now() - started < 15_000) await sleep(250);
    assert.equal(errors().length, 1, 'the broken file is reported');
    assert.match(String(errors()[0]?.err), /not a valid PEM certificate/);
    assert.equal((await handshake('x.b.example.test')).cert.fingerprint256, served);
    // Several more polls (every 2 s) see the same broken file: no second report.
    await sleep(5_000);
    assert.equal(errors().length, 1);
    assert.equal((await handshake('x.b.example.test')).cert.fingerprint256, served);
  });

  describe('http_redirect_addr', () => {
    const plain = () => `http://127.0.0.1:${redirectPort}`;
    const get = (host: string, target: string, method = 'GET') =>
      send(plain(), { method, path: target, headers: { host } });

    it('redirects to HTTPS with 301, path and query kept, on the port the host is served on', async () => {
      const routed = await get(`routed.example.test:${redirectPort}`, '/a/b?x=1&y=%20');
      assert.equal(routed.status, 301);
      assert.equal(routed.headers.location, 'https://routed.example.test/a/b?x=1&y=%20');
      assert.equal(routed.headers.connection, 'close');
      const a = await get('a.example.test', '/mcp');
      assert.equal(a.headers.location, `https://a.example.test:${port}/mcp`);
      // No route on that host: the HTTPS listener's own port.
      const other = await get('other.example.test', '/');
      assert.equal(other.headers.location, `https://other.example.test:${port}/`);
      const post = await get('routed.example.test', '/form', 'POST');
      assert.equal(post.status, 301);
      assert.equal(post.headers.location, 'https://routed.example.test/form');
      const ipv6 = await get('[::1]:80', '/');
      assert.equal(ipv6.headers.location, `https://[::1]:${port}/`);
    });

    it('ACME challenge paths are 404 while nothing answers them', async () => {
      const challenge = await get('a.example.test', '/.well-known/acme-challenge/Tok3n_-x');
      assert.equal(challenge.status, 404);
      assert.equal(JSON.parse(challenge.body).error, 'not_found');
      assert.equal(challenge.headers.location, undefined);
      const head = await get('a.example.test', '/.well-known/acme-challenge/Tok3n_-x', 'HEAD');
      assert.equal(head.status, 404);
    });

    it('a Host that names no site is 400, never a redirect elsewhere', async () => {
      for (const host of ['a.example.test@evil.example', 'a.example.test/evil', "a'b"]) {
        const res = await get(host, '/');
        assert.equal(res.status, 400, host);
        assert.equal(res.headers.location, undefined, host);
      }
      const two = await raw(
        redirectPort,
        'GET / HTTP/1.1\r\nHost: a.example.test\r\nHost: evil.example\r\n\r\n',
      );
      assert.match(two.text, /^HTTP\/1\.1 400 /);
    });

    it('has the main listener’s limits: stalled headers time out, connections are capped', async () => {
      const stalled = await raw(redirectPort, 'GET / HTTP/1.1\r\nHost: a.example.test\r\n');
      assert.match(stalled.text, /^HTTP\/1\.1 408 /);
      assert.ok(stalled.closed && stalled.ms < READ_MS + 1_500, `${stalled.ms} ms`);
      const from = '127.0.0.3';
      const held = Array.from({ length: CAP }, () =>
        raw(redirectPort, '', { localAddress: from, waitMs: 4_000 }),
      );
      await sleep(200);
      const refused = await raw(redirectPort, 'GET / HTTP/1.1\r\nHost: a\r\n\r\n', {
        localAddress: from,
      });
      assert.equal(refused.text, '', 'the connection over the cap got no answer');
      assert.ok(refused.closed && refused.ms < 500, `closed after ${refused.ms} ms`);
      await Promise.all(held);
    });

    it('the HTTPS listener closes a connection that never completes its handshake', async () => {
      const silent = await raw(port, '', { waitMs: 4_000 });
      assert.ok(silent.closed && silent.ms < READ_MS + 1_500, `closed after ${silent.ms} ms`);
    });
  });
});

interface RawAnswer {
  readonly text: string;
  readonly closed: boolean;
  readonly ms: number;
}

/** Writes `head` on a fresh TCP connection and collects what comes back until it closes. */
function raw(
  port: number,
  head: string,
  options: { waitMs?: number; localAddress?: string } = {},
): Promise<RawAnswer> {
  const started = performance.now();
  return new Promise((resolve) => {
    const socket: Socket = tcpConnect({
      port,
      host: '127.0.0.1',
      ...(options.localAddress ? { localAddress: options.localAddress } : {}),
    });
    let text = '';
    const done = (closed: boolean) => {
      clearTimeout(timer);
      socket.destroy();
      resolve({ text, closed, ms: Math.round(performance.now() - started) });
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
