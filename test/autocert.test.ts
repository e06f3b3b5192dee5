/**
 * Issue 11, automatic certificates: the gateway gets a certificate for each route host and the
 * authenticate host from a real ACME CA (Debian's pebble, validating HTTP-01 for real against
 * `http_redirect_addr`, names resolved to loopback by pebble-challtestsrv), serves each by SNI,
 * answers HTTPS to a client that trusts pebble's root, keeps everything in storage (a restart
 * orders nothing; a second replica on the same storage orders nothing and serves the same
 * certificates, one lease per host), and renews a short-lived certificate.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { connect as tlsConnect, type PeerCertificate } from 'node:tls';
import { X509Certificate } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { setLogger } from 'acme-client';
import { parseConfig } from '../src/config/load.js';
import { startGateway, type Gateway } from '../src/http/gateway.js';
import { exampleTestLookup } from './support/example-hosts.js';
import {
  TEST_COOKIE_SECRET,
  TEST_SHARED_SECRET,
  captureLogs,
  freePort,
  type LogCapture,
} from './support/gateway.js';
import { startPebble, type Pebble } from './support/pebble.js';
import { createTestCa } from './support/test-ca.js';

const HOSTS = ['sqlite.example.test', 'notion.example.test', 'auth.example.test'] as const;
/** Fast looks and polls, so the tests wait for pebble rather than for timers. */
const TUNING = { checkIntervalMs: 300, pollMs: 100 };

interface Replica {
  readonly gateway: Gateway;
  readonly logs: LogCapture;
  readonly port: number;
}

/** A TLS handshake naming `servername`, verified against `rootPem` (chain and name). */
function handshake(port: number, servername: string, rootPem: string): Promise<PeerCertificate> {
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({ host: '127.0.0.1', port, servername, ca: rootPem });
    socket.once('secureConnect', () => {
      resolve(socket.getPeerCertificate());
      socket.end();
    });
    socket.once('error', reject);
  });
}

/** Handshakes until one succeeds (and `accept` takes it), for at most `ms`. */
async function servedWithin(
  port: number,
  host: string,
  rootPem: string,
  ms: number,
  accept: (cert: PeerCertificate) => boolean = () => true,
): Promise<PeerCertificate> {
  const deadline = Date.now() + ms;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const cert = await handshake(port, host, rootPem);
      if (accept(cert)) return cert;
      last = new Error(`still serving ${cert.fingerprint256}`);
    } catch (err) {
      last = err;
    }
    await sleep(100);
  }
  throw new Error(`${host}: no acceptable certificate within ${ms} ms: ${String(last)}`);
}

function orders(logs: LogCapture, msg = 'autocert: ordering'): string[] {
  return logs
    .lines()
    .filter((l) => l.msg === msg)
    .map((l) => String(l.host));
}

/** An upstream, a folder, and gateways started on it (all closed by `close`). */
class Rig {
  readonly dir = mkdtempSync(join(tmpdir(), 'portcullis-autocert-'));
  private readonly upstream = createServer((req, res) =>
    res.end(`upstream saw ${req.headers.host}`),
  );
  private readonly replicas: Replica[] = [];
  upstreamPort = 0;

  async open(): Promise<void> {
    this.upstream.listen(0, '127.0.0.1');
    await once(this.upstream, 'listening');
    this.upstreamPort = (this.upstream.address() as AddressInfo).port;
  }

  /** A gateway with autocert from `ca`, its HTTP-01 listener on `redirect`, storage in `db`. */
  async replica(db: string, redirect: number, ca: Pebble, extra = ''): Promise<Replica> {
    const port = await freePort();
    const yaml = this.yaml(port, redirect, db, ca) + extra;
    const { config, warnings } = parseConfig(yaml, 'a.yaml', {});
    assert.deepEqual(
      warnings.filter((w) => w.key.startsWith('autocert') || w.key === 'http_redirect_addr'),
      [],
    );
    const logs = captureLogs();
    const gateway = await startGateway({ config, logger: logs.logger, autocert: TUNING });
    const started = { gateway, logs, port };
    this.replicas.push(started);
    return started;
  }

  async close(): Promise<void> {
    for (const r of this.replicas) await r.gateway.close();
    await new Promise((resolve) => this.upstream.close(resolve));
    rmSync(this.dir, { recursive: true, force: true });
  }

  private yaml(port: number, redirect: number, db: string, ca: Pebble): string {
    const route = (host: string, rule: string) =>
      `  - from: https://${host}:${port}\n    to: http://127.0.0.1:${this.upstreamPort}\n    ${rule}: true\n`;
    return `address: 127.0.0.1:${port}
http_redirect_addr: 127.0.0.1:${redirect}
autocert: true
autocert_ca: ${ca.directoryUrl}
autocert_trusted_ca_file: ${ca.httpsCaFile}
autocert_email: ops@example.test
autocert_dir: ${join(this.dir, `autocert-${port}`)}
shared_secret: ${TEST_SHARED_SECRET}
cookie_secret: ${TEST_COOKIE_SECRET}
authenticate_service_url: https://auth.example.test:${port}
idp_provider: builtin
databroker_storage_type: sqlite
databroker_storage_connection_string: ${join(this.dir, db)}
routes:
${route('sqlite.example.test', 'allow_public_unauthenticated_access')}${route('notion.example.test', 'allow_any_authenticated_user')}`;
  }
}

describe('autocert: certificates from a real ACME CA (pebble)', () => {
  const rig = new Rig();
  let pebble: Pebble;
  let redirectPort: number;

  before(async () => {
    await rig.open();
    redirectPort = await freePort();
    pebble = await startPebble({ httpPort: redirectPort });
  });
  after(async () => {
    await rig.close();
    await pebble?.stop();
  });

  let first: Replica;
  const fingerprints = new Map<string, string>();

  it('orders one certificate per host by real HTTP-01 and serves each by SNI', async () => {
    first = await rig.replica('one.db', redirectPort, pebble);
    for (const host of HOSTS) {
      const cert = await servedWithin(first.port, host, pebble.rootPem, 20_000);
      assert.equal(cert.subjectaltname, `DNS:${host}`);
      assert.match(String(cert.issuer.CN), /^Pebble Intermediate CA/);
      fingerprints.set(host, cert.fingerprint256);
    }
    assert.deepEqual(orders(first.logs).sort(), [...HOSTS].sort());
    // pebble fetched each token from the gateway's http_redirect_addr and found it right.
    const log = pebble.log();
    for (const host of HOSTS) {
      const fetched = `Attempting to validate w/ HTTP: http://${host}:${redirectPort}/.well-known/acme-challenge/`;
      assert.ok(log.includes(fetched), `${host} was not validated over HTTP:\n${log}`);
    }
    assert.equal(log.match(/set VALID by completed challenge/g)?.length, HOSTS.length);
    assert.ok(!log.includes('INVALID'), log);
  });

  it('answers HTTPS to a client that trusts only pebble’s root', async () => {
    const { status, body } = await new Promise<{ status: number; body: string }>(
      (resolve, reject) => {
        const req = httpsRequest(
          {
            host: 'sqlite.example.test',
            port: first.port,
            path: '/',
            ca: pebble.rootPem,
            lookup: exampleTestLookup,
          },
          (res) => {
            let text = '';
            res.setEncoding('utf8');
            res.on('data', (c: string) => (text += c));
            res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
          },
        );
        req.once('error', reject);
        req.end();
      },
    );
    assert.equal(status, 200);
    assert.equal(body, `upstream saw 127.0.0.1:${rig.upstreamPort}`);
  });

  it('a name that is no route host has no certificate of its own: verification fails', async () => {
    await assert.rejects(handshake(first.port, 'other.example.test', pebble.rootPem));
  });

  it('keeps a copy in autocert_dir, the key readable by the owner only', () => {
    const cacheRoot = join(rig.dir, `autocert-${first.port}`);
    const folder = onlyFolder(cacheRoot);
    for (const host of HOSTS) {
      const cert = new X509Certificate(readFileSync(join(folder, `${host}.crt`), 'utf8'));
      assert.equal(cert.fingerprint256, fingerprints.get(host));
      assert.equal(statSync(join(folder, `${host}.key`)).mode & 0o077, 0);
    }
  });

  it('a restart on the same storage orders nothing and serves what storage holds', async () => {
    await first.gateway.close();
    const again = await rig.replica('one.db', redirectPort, pebble);
    for (const host of HOSTS) {
      const cert = await servedWithin(again.port, host, pebble.rootPem, 5_000);
      assert.equal(cert.fingerprint256, fingerprints.get(host));
    }
    await sleep(TUNING.checkIntervalMs * 3);
    assert.deepEqual(orders(again.logs), []);
    await again.gateway.close();
  });

  it('two replicas on one storage: one orders each certificate, both serve it', async () => {
    // Only the first answers on pebble's HTTP port: a challenge published by the second is
    // answered by the first from storage.
    const [a, b] = await Promise.all([
      rig.replica('shared.db', redirectPort, pebble),
      rig.replica('shared.db', await freePort(), pebble),
    ]);
    for (const host of HOSTS) {
      const fromA = await servedWithin(a.port, host, pebble.rootPem, 20_000);
      const fromB = await servedWithin(b.port, host, pebble.rootPem, 20_000);
      assert.equal(fromA.fingerprint256, fromB.fingerprint256, host);
      assert.notEqual(fromA.fingerprint256, fingerprints.get(host), 'a new storage, a new order');
    }
    await sleep(TUNING.checkIntervalMs * 3);
    const all = [...orders(a.logs), ...orders(b.logs)].sort();
    assert.deepEqual(all, [...HOSTS].sort(), 'each host ordered once, by one replica');
    await Promise.all([a.gateway.close(), b.gateway.close()]);
  });

  it('a challenge published by one replica is answered by another, from storage', async () => {
    // The replica on pebble's HTTP port has a configured wildcard certificate for every host,
    // so it orders nothing; the other, whose own HTTP port pebble never asks, orders them all.
    const ca = createTestCa('DNS:*.example.test');
    const b64 = (text: string) => Buffer.from(text).toString('base64');
    try {
      const relay = await rig.replica(
        'relay.db',
        redirectPort,
        pebble,
        `certificate: ${b64(ca.certPem)}\ncertificate_key: ${b64(ca.keyPem)}\n`,
      );
      const before = pebble.log().length;
      const orderer = await rig.replica('relay.db', await freePort(), pebble);
      for (const host of HOSTS) await servedWithin(orderer.port, host, pebble.rootPem, 20_000);
      assert.deepEqual(orders(orderer.logs).sort(), [...HOSTS].sort());
      assert.deepEqual(orders(relay.logs), []);
      const log = pebble.log().slice(before);
      for (const host of HOSTS) {
        const fetched = `Attempting to validate w/ HTTP: http://${host}:${redirectPort}/`;
        assert.ok(log.includes(fetched), host);
      }
      assert.ok(!log.includes('INVALID'), log);
    } finally {
      ca.remove();
    }
  });
});

/** The one folder under `root` (one per ACME directory). */
function onlyFolder(root: string): string {
  const entries = readdirSync(root);
  assert.equal(entries.length, 1, entries.join(', '));
  return join(root, entries[0]!);
}

describe('autocert: renewal once two thirds of a certificate’s lifetime has passed', () => {
  const rig = new Rig();
  let pebble: Pebble;
  let redirectPort: number;
  const VALIDITY_S = 9;

  before(async () => {
    await rig.open();
    redirectPort = await freePort();
    pebble = await startPebble({ httpPort: redirectPort, validitySeconds: VALIDITY_S });
  });
  after(async () => {
    await rig.close();
    await pebble?.stop();
  });

  it('a short-lived certificate is replaced by a new order before it expires', async () => {
    const gw = await rig.replica('renew.db', redirectPort, pebble);
    const host = 'sqlite.example.test';
    const initial = await servedWithin(gw.port, host, pebble.rootPem, 20_000);
    const lifetimeMs = Date.parse(initial.valid_to) - Date.parse(initial.valid_from);
    assert.ok(lifetimeMs <= (VALIDITY_S + 1) * 1000, `${initial.valid_from} → ${initial.valid_to}`);
    const renewed = await servedWithin(
      gw.port,
      host,
      pebble.rootPem,
      VALIDITY_S * 1000,
      (cert) => cert.fingerprint256 !== initial.fingerprint256,
    );
    // Renewed after two thirds of the lifetime, not before.
    const renewedAt = Date.parse(renewed.valid_from);
    assert.ok(renewedAt >= Date.parse(initial.valid_from) + (lifetimeMs * 2) / 3 - 1_000);
    assert.ok(Date.parse(renewed.valid_to) > Date.parse(initial.valid_to));
    assert.ok(orders(gw.logs, 'autocert: renewing').includes(host));
  });
});

describe('autocert: a CA that rejects nonces (badNonce, RFC 8555 §6.5)', () => {
  const rig = new Rig();
  let pebble: Pebble;
  let redirectPort: number;
  const caught: string[] = [];

  before(async () => {
    await rig.open();
    redirectPort = await freePort();
    // A fifth of good nonces refused: an order of some 40 requests meets several.
    pebble = await startPebble({ httpPort: redirectPort, env: { PEBBLE_WFE_NONCEREJECT: '20' } });
    setLogger((line) => {
      if (line.startsWith('Caught invalid nonce error')) caught.push(line);
    });
  });
  after(async () => {
    setLogger(() => {});
    await rig.close();
    await pebble?.stop();
  });

  it('each refused request is sent again with the fresh nonce, and every host gets its certificate', async () => {
    const gw = await rig.replica('nonce.db', redirectPort, pebble);
    for (const host of HOSTS) await servedWithin(gw.port, host, pebble.rootPem, 20_000);
    assert.ok(caught.length > 0, 'pebble refused no nonce');
    assert.deepEqual(
      gw.logs.lines().filter((l) => l.msg === 'autocert: order failed'),
      [],
    );
  });
});
