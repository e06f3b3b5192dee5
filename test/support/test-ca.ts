/**
 * A throwaway certificate authority and one server certificate it signs, made with Debian's
 * `openssl`, for tests that need a real https peer (Client ID Metadata Documents). The server
 * certificate names `localhost` and `127.0.0.1` unless told otherwise.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface TestCa {
  /** PEM of the CA certificate (what a client must trust). */
  readonly caPem: string;
  /** The CA certificate as a file (for `NODE_EXTRA_CA_CERTS`). */
  readonly caFile: string;
  /** The server certificate (by default for `localhost` and `127.0.0.1`) and its key, PEM. */
  readonly certPem: string;
  readonly keyPem: string;
  /** Deletes the files. */
  remove(): void;
}

function openssl(dir: string, args: readonly string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
}

/** `names`: the server certificate's subjectAltName entries. */
export function createTestCa(names = 'DNS:localhost,IP:127.0.0.1'): TestCa {
  const dir = mkdtempSync(join(tmpdir(), 'portcullis-test-ca-'));
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  openssl(dir, [
    'req',
    '-x509',
    ...ec,
    '-keyout',
    'ca.key',
    '-out',
    'ca.pem',
    '-days',
    '2',
    '-subj',
    '/CN=Portcullis test CA',
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign',
  ]);
  openssl(dir, [
    'req',
    ...ec,
    '-keyout',
    'server.key',
    '-out',
    'server.csr',
    '-subj',
    '/CN=localhost',
  ]);
  writeFileSync(
    join(dir, 'server.ext'),
    [
      'basicConstraints=CA:FALSE',
      'keyUsage=critical,digitalSignature',
      'extendedKeyUsage=serverAuth',
      `subjectAltName=${names}`,
    ].join('\n'),
  );
  openssl(dir, [
    'x509',
    '-req',
    '-in',
    'server.csr',
    '-CA',
    'ca.pem',
    '-CAkey',
    'ca.key',
    '-CAcreateserial',
    '-out',
    'server.pem',
    '-days',
    '2',
    '-extfile',
    'server.ext',
  ]);
  const read = (name: string) => readFileSync(join(dir, name), 'utf8');
  return {
    caPem: read('ca.pem'),
    caFile: join(dir, 'ca.pem'),
    certPem: read('server.pem'),
    keyPem: read('server.key'),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}
