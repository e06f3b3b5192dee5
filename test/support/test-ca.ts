/**
 * A throwaway certificate authority and one server certificate it signs, made with Debian's
 * `openssl`, for tests that need a real https peer (Client ID Metadata Documents). The server
 * certificate names `localhost` and `127.0.0.1` unless told otherwise; `issue` makes more, for
 * other names, from the same CA (a gateway serving several hosts by SNI).
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
  /** Another server certificate from this CA, with its own key, for `names` (SAN entries). */
  issue(names: string, commonName?: string): IssuedCertificate;
  /** Deletes the files. */
  remove(): void;
}

export interface IssuedCertificate {
  readonly certPem: string;
  readonly keyPem: string;
}

const EC = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

function openssl(dir: string, args: readonly string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
}

/** `names`: the server certificate's subjectAltName entries. */
export function createTestCa(names = 'DNS:localhost,IP:127.0.0.1'): TestCa {
  const dir = mkdtempSync(join(tmpdir(), 'portcullis-test-ca-'));
  openssl(dir, [
    'req',
    '-x509',
    ...EC,
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
  const server = issue(dir, 'server', names, 'localhost');
  const read = (name: string) => readFileSync(join(dir, name), 'utf8');
  let issued = 0;
  return {
    caPem: read('ca.pem'),
    caFile: join(dir, 'ca.pem'),
    ...server,
    issue: (more, commonName = more.replace(/^[A-Z ]+:/, '').split(',')[0]!) =>
      issue(dir, `issued-${++issued}`, more, commonName),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** A key and a certificate for `names` signed by the CA in `dir`, as `<base>.key`/`<base>.pem`. */
function issue(dir: string, base: string, names: string, commonName: string): IssuedCertificate {
  openssl(dir, [
    'req',
    ...EC,
    '-keyout',
    `${base}.key`,
    '-out',
    `${base}.csr`,
    '-subj',
    `/CN=${commonName}`,
  ]);
  writeFileSync(
    join(dir, `${base}.ext`),
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
    `${base}.csr`,
    '-CA',
    'ca.pem',
    '-CAkey',
    'ca.key',
    '-CAcreateserial',
    '-out',
    `${base}.pem`,
    '-days',
    '2',
    '-extfile',
    `${base}.ext`,
  ]);
  return {
    certPem: readFileSync(join(dir, `${base}.pem`), 'utf8'),
    keyPem: readFileSync(join(dir, `${base}.key`), 'utf8'),
  };
}
