import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect, createServer, type Server } from 'node:tls';
import type { AddressInfo } from 'node:net';
import { createTestCa, type TestCa } from '../../test/support/test-ca.js';
import { followDefaultCertificate, tlsServerOptions } from './serve.js';
import { CertificateStore } from './store.js';

describe('the TLS listener options', () => {
  let ca: TestCa;
  let server: Server;
  let store: CertificateStore;
  before(async () => {
    ca = createTestCa('DNS:first.example.test');
    store = new CertificateStore();
    store.set('config:0', { cert: ca.certPem, key: ca.keyPem });
    server = createServer(tlsServerOptions(store), (socket) => socket.end());
    followDefaultCertificate(server, store);
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
  });
  after(async () => {
    server?.close();
    ca?.remove();
  });

  /** The fingerprint served to a client that sends no server name. */
  const withoutSni = () =>
    new Promise<string>((resolve, reject) => {
      const { port } = server.address() as AddressInfo;
      const socket = connect({
        host: '127.0.0.1',
        port,
        ca: ca.caPem,
        checkServerIdentity: () => undefined,
      });
      socket.once('secureConnect', () => {
        resolve(socket.getPeerCertificate().fingerprint256);
        socket.destroy();
      });
      socket.once('error', reject);
    });

  it('a client without SNI gets the store’s default, also after it was replaced', async () => {
    assert.equal(await withoutSni(), store.default?.fingerprint256);
    const next = ca.issue('DNS:first.example.test');
    const replaced = store.set('config:0', { cert: next.certPem, key: next.keyPem });
    assert.equal(await withoutSni(), replaced.fingerprint256);
    // A later entry does not take the default's place.
    const other = ca.issue('DNS:second.example.test');
    store.set('config:1', { cert: other.certPem, key: other.keyPem });
    assert.equal(await withoutSni(), replaced.fingerprint256);
    store.delete('config:0');
    assert.equal(await withoutSni(), store.get('config:1')?.fingerprint256);
  });
});
