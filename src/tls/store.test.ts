import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createTestCa, type IssuedCertificate, type TestCa } from '../../test/support/test-ca.js';
import { CertificateError } from './certificate.js';
import { CertificateStore } from './store.js';

const pair = (c: IssuedCertificate) => ({ cert: c.certPem, key: c.keyPem });

describe('CertificateStore', () => {
  let ca: TestCa;
  let apex: IssuedCertificate;
  let wildcard: IssuedCertificate;
  let exact: IssuedCertificate;
  before(() => {
    ca = createTestCa('DNS:default.example.test,IP:127.0.0.1');
    apex = ca.issue('DNS:example.test,DNS:Mixed.Example.Test');
    wildcard = ca.issue('DNS:*.example.test');
    exact = ca.issue('DNS:a.example.test');
  });
  after(() => ca?.remove());

  it('chooses by name: exact before wildcard, a wildcard covers exactly one label', () => {
    const store = new CertificateStore();
    store.set('config:0', { cert: ca.certPem, key: ca.keyPem });
    const wild = store.set('config:1', pair(wildcard));
    const a = store.set('config:2', pair(exact));
    const top = store.set('config:3', pair(apex));
    assert.deepEqual(wild.names, ['*.example.test']);
    assert.deepEqual(top.names, ['example.test', 'mixed.example.test']);
    // The exact entry is later than the wildcard, and still wins for its name.
    assert.equal(store.select('a.example.test'), a);
    assert.equal(store.select('b.example.test'), wild);
    assert.equal(store.select('B.Example.Test.'), wild);
    assert.equal(store.select('example.test'), top);
    assert.equal(store.select('MIXED.example.test'), top);
    const fallback = store.default;
    assert.deepEqual(fallback?.names, ['default.example.test']);
    for (const name of ['x.a.example.test', 'example.org', 'test', '.example.test', undefined]) {
      assert.equal(store.select(name), fallback, String(name));
    }
  });

  it('the earliest entry wins among equals, and a replaced entry keeps its place', () => {
    const store = new CertificateStore();
    const first = store.set('config:0', pair(exact));
    store.set('acme:a.example.test', pair(ca.issue('DNS:a.example.test')));
    assert.equal(store.select('a.example.test'), first);
    let changes = 0;
    store.onChange(() => changes++);
    const replaced = store.set('config:0', pair(ca.issue('DNS:a.example.test')));
    assert.equal(changes, 1);
    assert.notEqual(replaced.fingerprint256, first.fingerprint256);
    assert.equal(store.select('a.example.test'), replaced);
    assert.equal(store.default, replaced);
    assert.ok(store.delete('config:0'));
    assert.notEqual(store.select('a.example.test'), replaced);
    assert.equal(store.select('a.example.test')?.names[0], 'a.example.test');
    assert.equal(changes, 2);
  });

  it('a bad pair is refused and leaves the store as it was', () => {
    const store = new CertificateStore();
    const kept = store.set('config:0', pair(exact));
    assert.throws(
      () => store.set('config:0', { cert: exact.certPem, key: apex.keyPem }),
      (err: unknown) =>
        err instanceof CertificateError &&
        err.part === 'key' &&
        /does not match the certificate/.test(err.message),
    );
    assert.throws(
      () => store.set('config:0', { cert: 'garbage', key: exact.keyPem }),
      (err: unknown) => err instanceof CertificateError && err.part === 'cert',
    );
    assert.equal(store.get('config:0'), kept);
    assert.equal(store.size, 1);
  });

  it('the SNI callback hands out the chosen context; an empty store fails the handshake', () => {
    const store = new CertificateStore();
    const empty: unknown[] = [];
    store.sniCallback('a.example.test', (err, ctx) => void empty.push(err?.message, ctx));
    assert.deepEqual(empty, ['no certificate to serve', undefined]);
    const a = store.set('config:0', pair(exact));
    const served: unknown[] = [];
    store.sniCallback('a.example.test', (err, ctx) => void served.push(err, ctx));
    assert.deepEqual(served, [null, a.context]);
  });
});
