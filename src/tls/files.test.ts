import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { createTestCa, type TestCa } from '../../test/support/test-ca.js';
import { CertificateError } from './certificate.js';
import { loadCertificateFiles, watchCertificateFiles } from './files.js';
import { CertificateStore } from './store.js';

/** Polls `check` every 20 ms until it holds, failing after `ms`. */
async function eventually(check: () => boolean, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) assert.fail(`not within ${ms} ms: ${what}`);
    await sleep(20);
  }
}

describe('certificate files', () => {
  let ca: TestCa;
  let dir: string;
  const files = () => ({ certFile: join(dir, 'tls.crt'), keyFile: join(dir, 'tls.key') });
  /** Replaces a file the way deploy tools do: written aside, renamed over. */
  const replace = (path: string, text: string) => {
    writeFileSync(`${path}.new`, text);
    renameSync(`${path}.new`, path);
  };
  before(() => {
    ca = createTestCa('DNS:a.example.test');
    dir = mkdtempSync(join(tmpdir(), 'portcullis-tls-files-'));
  });
  after(() => {
    ca?.remove();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('loads a pair, and says which half cannot be read', () => {
    writeFileSync(files().certFile, ca.certPem);
    writeFileSync(files().keyFile, ca.keyPem);
    const { served } = loadCertificateFiles(files());
    assert.deepEqual(served.names, ['a.example.test']);
    assert.throws(
      () => loadCertificateFiles({ ...files(), keyFile: join(dir, 'absent.key') }),
      (err: unknown) =>
        err instanceof CertificateError &&
        err.part === 'key' &&
        err.message === `cannot read ${join(dir, 'absent.key')}: ENOENT`,
    );
  });

  it('follows changes; a broken version is reported once and the old one stays', async (t) => {
    writeFileSync(files().certFile, ca.certPem);
    writeFileSync(files().keyFile, ca.keyPem);
    const { served, signature } = loadCertificateFiles(files());
    const store = new CertificateStore();
    store.put('config:0', served);
    const reloaded: string[] = [];
    const errors: string[] = [];
    const stop = watchCertificateFiles(store, [{ id: 'config:0', ...files(), signature }], {
      intervalMs: 25,
      onReloaded: (id, s) => reloaded.push(`${id} ${s.fingerprint256}`),
      onError: (id, err) => errors.push(`${id} ${err.message}`),
    });
    t.after(stop);
    await sleep(150);
    assert.deepEqual(reloaded, [], 'unchanged files are not read again');

    const next = ca.issue('DNS:a.example.test');
    replace(files().keyFile, next.keyPem);
    replace(files().certFile, next.certPem);
    const fingerprint = () => store.get('config:0')?.fingerprint256;
    await eventually(() => reloaded.length === 1, 2_000, 'the new pair is served');
    const nextFingerprint = fingerprint();
    assert.notEqual(nextFingerprint, served.fingerprint256);

    replace(files().certFile, 'not a certificate');
    await eventually(() => errors.length === 1, 2_000, 'the broken file is reported');
    assert.match(errors[0]!, /^config:0 expected a PEM certificate/);
    await sleep(250);
    assert.equal(errors.length, 1, 'reported once, not on every poll');
    assert.equal(fingerprint(), nextFingerprint, 'still serving the last good pair');

    replace(files().certFile, next.certPem);
    await eventually(() => reloaded.length === 2, 2_000, 'the repaired file is read again');
    assert.equal(fingerprint(), nextFingerprint);
    assert.equal(errors.length, 1);
  });
});
