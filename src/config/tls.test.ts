import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTestCa, type TestCa } from '../../test/support/test-ca.js';
import { LETS_ENCRYPT } from './autocert.js';
import { loadAutocertTrust, loadCertificates } from './certificates.js';
import { ConfigValidationError, formatIssue } from './issues.js';
import { analyzeConfig, parseConfig } from './load.js';

const SECRET = 'wC4RFsEdM1gHFzvRt3XW+iWw6Ddt/1kKkdh66OKxiqs=';
const HEAD = `shared_secret: ${SECRET}\ncookie_secret: ${SECRET}\naddress: 127.0.0.1:8443\n`;
const b64 = (text: string) => Buffer.from(text).toString('base64');

function findings(text: string, env: Record<string, string> = {}) {
  const { config, issues } = analyzeConfig(text, 'c.yaml', env);
  return {
    config,
    errors: issues.filter((i) => i.severity === 'error').map(formatIssue),
    warnings: issues.filter((i) => i.severity === 'warning').map(formatIssue),
  };
}

/** The lines `loadCertificates` reports for `text`, or [] when every certificate loads. */
function startErrors(text: string, env: Record<string, string> = {}): string[] {
  const { config } = parseConfig(text, 'c.yaml', env);
  try {
    loadCertificates(config);
    return [];
  } catch (err) {
    assert.ok(err instanceof ConfigValidationError, String(err));
    return err.issues.map(formatIssue);
  }
}

describe('certificate keys', () => {
  let ca: TestCa;
  let dir: string;
  let other: { certPem: string; keyPem: string };
  const file = (name: string, text: string) => {
    writeFileSync(join(dir, name), text);
    return join(dir, name);
  };
  before(() => {
    ca = createTestCa('DNS:a.example.test');
    other = ca.issue('DNS:b.example.test');
    dir = mkdtempSync(join(tmpdir(), 'portcullis-config-tls-'));
  });
  after(() => {
    ca?.remove();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('all three sources combine, in Pomerium order: certificate, certificates, certificate_file', () => {
    const text = `${HEAD}certificate_file: ${file('f.pem', ca.certPem)}
certificate_key_file: ${file('f.key', ca.keyPem)}
certificates:
  - cert: ${file('b.pem', other.certPem)}
    key: ${file('b.key', other.keyPem)}
certificate: ${b64(other.certPem)}
certificate_key: ${b64(other.keyPem)}
`;
    const { config, errors, warnings } = findings(text);
    assert.deepEqual(errors, []);
    assert.ok(!warnings.some((w) => /certificate/.test(w)), warnings.join('\n'));
    const sources = config?.tls?.certificates ?? [];
    assert.deepEqual(
      sources.map((s) => [s.kind, s.at.cert.key, s.at.cert.line, s.at.key.line]),
      [
        ['inline', 'certificate', 9, 10],
        ['files', 'certificates[0].cert', 7, 8],
        ['files', 'certificate_file', 4, 5],
      ],
    );
    assert.equal(sources[0]?.kind === 'inline' && sources[0].certPem, other.certPem);
    assert.deepEqual(
      loadCertificates(config!).map((c) => [c.id, c.served.names, c.watch !== null]),
      [
        ['config:0', ['b.example.test'], false],
        ['config:1', ['b.example.test'], true],
        ['config:2', ['a.example.test'], true],
      ],
    );
  });

  it('certificate and certificate_key are base64 of PEM, checked when the config is read', () => {
    const pair = (cert: string, key: string) =>
      findings(`${HEAD}certificate: ${cert}\ncertificate_key: ${key}\n`).errors;
    assert.deepEqual(pair(b64(ca.certPem), b64(other.keyPem)), [
      'c.yaml:5 certificate_key: the private key does not match the certificate',
    ]);
    assert.deepEqual(pair(b64('not a certificate'), b64(ca.keyPem)), [
      'c.yaml:4 certificate: expected a PEM certificate (-----BEGIN CERTIFICATE-----)',
    ]);
    assert.deepEqual(pair(b64(ca.certPem), 'not*base64'), [
      'c.yaml:5 certificate_key: expected base64 of a PEM file (base64 -w0 FILE)',
    ]);
    const pem = findings(
      `${HEAD}certificate: |\n${ca.certPem.trimEnd().replace(/^/gm, '  ')}\ncertificate_key: ${b64(ca.keyPem)}\n`,
    );
    assert.match(pem.errors[0] ?? '', /^c\.yaml:4 certificate: expected base64 of the PEM text/);
    // Wrapped base64 (`base64 FILE`, 76 columns) is read as Go reads it.
    const wrapped = b64(ca.certPem).replace(/.{76}/g, '$&\n');
    const folded = `${HEAD}certificate: |\n${wrapped.replace(/^/gm, '  ')}\ncertificate_key: ${b64(ca.keyPem)}\n`;
    assert.deepEqual(findings(folded).errors, []);
  });

  it('one half of a pair alone is an error at the half that is there', () => {
    assert.deepEqual(findings(`${HEAD}certificate: ${b64(ca.certPem)}\n`).errors, [
      'c.yaml:4 certificate_key: required when certificate is set',
    ]);
    assert.deepEqual(findings(`${HEAD}log_level: info\ncertificate_key_file: /k.pem\n`).errors, [
      'c.yaml:5 certificate_file: required when certificate_key_file is set',
    ]);
    const entry = findings(`${HEAD}certificates:\n  - cert: /c.pem\n`).errors;
    assert.equal(entry.length, 1);
    assert.match(entry[0]!, /^c\.yaml:5 certificates\[0\]\.key: required/);
  });

  it('files are read at start: a missing file, a bad PEM, a foreign key, each at its own line', () => {
    const cert = file('ok.pem', ca.certPem);
    const key = file('ok.key', ca.keyPem);
    const text = `${HEAD}certificates:
  - cert: ${join(dir, 'absent.pem')}
    key: ${key}
  - cert: ${file('garbage.pem', 'hello')}
    key: ${key}
  - cert: ${cert}
    key: ${file('foreign.key', other.keyPem)}
  - cert: ${cert}
    key: ${file('encrypted.key', '-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n')}
certificate_file: ${cert}
certificate_key_file: ${key}
`;
    assert.deepEqual(startErrors(text), [
      `c.yaml:5 certificates[0].cert: cannot read ${join(dir, 'absent.pem')}: ENOENT`,
      'c.yaml:7 certificates[1].cert: expected a PEM certificate (-----BEGIN CERTIFICATE-----)',
      'c.yaml:10 certificates[2].key: the private key does not match the certificate',
      'c.yaml:12 certificates[3].key: an encrypted private key cannot be used; decrypt it first',
    ]);
  });

  it('a file named by the environment is reported under its variable', () => {
    const env = { CERTIFICATE_FILE: join(dir, 'nowhere.pem'), CERTIFICATE_KEY_FILE: '/k' };
    assert.deepEqual(startErrors(HEAD, env), [
      `CERTIFICATE_FILE (environment) certificate_file: cannot read ${join(dir, 'nowhere.pem')}: ENOENT`,
    ]);
    const inline = { CERTIFICATE: b64(ca.certPem), CERTIFICATE_KEY: b64(ca.keyPem) };
    assert.equal(findings(HEAD, inline).config?.tls?.certificates[0]?.kind, 'inline');
    assert.deepEqual(findings(HEAD, { ...inline, CERTIFICATE_KEY: b64(other.keyPem) }).errors, [
      'CERTIFICATE_KEY (environment) certificate_key: the private key does not match the certificate',
    ]);
  });

  it('http_redirect_addr needs TLS, its own port, and takes Pomerium’s spellings', () => {
    const tls = `certificate: ${b64(ca.certPem)}\ncertificate_key: ${b64(ca.keyPem)}\n`;
    const redirect = (value: string, extra = tls) =>
      findings(`${HEAD}${extra}http_redirect_addr: ${value}\n`);
    assert.deepEqual(redirect(':80').config?.tls?.httpRedirect, {
      address: { host: '', port: 80 },
      at: { file: 'c.yaml', line: 6, key: 'http_redirect_addr' },
    });
    assert.deepEqual(redirect(`'"127.0.0.1:8080"'`).config?.tls?.httpRedirect?.address, {
      host: '127.0.0.1',
      port: 8080,
    });
    assert.deepEqual(redirect(':80', 'insecure_server: true\n').errors, [
      'c.yaml:5 http_redirect_addr: redirects to HTTPS, which is off: insecure_server is true',
    ]);
    assert.deepEqual(redirect(':80', '').errors, [
      'c.yaml:4 http_redirect_addr: redirects to HTTPS, which is off: no certificate is configured',
    ]);
    assert.deepEqual(redirect(':8443').errors, [
      'c.yaml:6 http_redirect_addr: the same port as address (8443)',
    ]);
    assert.match(
      redirect('eighty').errors[0] ?? '',
      /^c\.yaml:6 http_redirect_addr: expected host:port/,
    );
    const fromEnv = findings(`${HEAD}${tls}`, { HTTP_REDIRECT_ADDR: ':8080' });
    assert.deepEqual(fromEnv.config?.tls?.httpRedirect, {
      address: { host: '', port: 8080 },
      at: { file: 'c.yaml', line: 0, key: 'http_redirect_addr', envVar: 'HTTP_REDIRECT_ADDR' },
    });
  });
});

describe('autocert keys', () => {
  let ca: TestCa;
  let dir: string;
  before(() => {
    ca = createTestCa();
    dir = mkdtempSync(join(tmpdir(), 'portcullis-config-autocert-'));
  });
  after(() => {
    ca?.remove();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });
  const others = (warnings: string[]) => warnings.filter((w) => !/^c\.yaml:[123] /.test(w));

  it('autocert alone turns TLS on: Let’s Encrypt, challenges on :80, a copy in the data folder', () => {
    const { config, errors, warnings } = findings(`${HEAD}autocert: true\n`, {
      PORTCULLIS_DATA_DIR: '/srv/data',
    });
    assert.deepEqual(errors, []);
    assert.deepEqual(others(warnings), []);
    assert.deepEqual(config?.tls?.certificates, []);
    assert.deepEqual(config?.tls?.autocert, {
      directoryUrl: LETS_ENCRYPT.production,
      email: null,
      cacheDir: '/srv/data/autocert',
      trustedCa: null,
    });
    assert.deepEqual(config?.tls?.httpRedirect?.address, { host: '', port: 80 });
    assert.equal(config?.tls?.httpRedirect?.at.key, 'autocert');
  });

  it('autocert_use_staging picks Let’s Encrypt staging; autocert_ca wins over it', () => {
    const staging = findings(`${HEAD}autocert: true\nautocert_use_staging: true\n`);
    assert.equal(staging.config?.tls?.autocert?.directoryUrl, LETS_ENCRYPT.staging);
    const both = findings(
      `${HEAD}autocert: true\nautocert_use_staging: true\nautocert_ca: https://ca.example.test/dir\nautocert_email: ops@example.test\nautocert_dir: /var/acme\nhttp_redirect_addr: :8080\n`,
    );
    assert.deepEqual(both.errors, []);
    assert.deepEqual(others(both.warnings), [
      'c.yaml:5 autocert_use_staging: ignored: autocert_ca names the ACME directory',
    ]);
    const autocert = both.config?.tls?.autocert;
    assert.equal(autocert?.directoryUrl, 'https://ca.example.test/dir');
    assert.equal(autocert?.email, 'ops@example.test');
    assert.equal(autocert?.cacheDir, '/var/acme');
    assert.equal(both.config?.tls?.httpRedirect?.address.port, 8080);
  });

  it('must-staple and external account binding are warned about as not supported', () => {
    const { errors, warnings } = findings(
      `${HEAD}autocert: true\nautocert_must_staple: true\nautocert_eab_key_id: kid\nautocert_eab_mac_key: mac\n`,
    );
    assert.deepEqual(errors, []);
    assert.deepEqual(
      others(warnings).map((w) => w.split(': ').slice(0, 3).join(': ')),
      [
        'c.yaml:5 autocert_must_staple: Pomerium setting not supported yet: OCSP must-staple is not supported',
        'c.yaml:6 autocert_eab_key_id: Pomerium setting not supported yet: external account binding is not supported',
        'c.yaml:7 autocert_eab_mac_key: Pomerium setting not supported yet: external account binding is not supported',
      ],
    );
  });

  it('autocert keys without autocert are warned about; with insecure_server autocert is off', () => {
    const off = findings(
      `${HEAD}autocert_ca: https://ca.example.test/dir\ncertificate_file: a\ncertificate_key_file: b\n`,
    );
    assert.deepEqual(others(off.warnings), [
      'c.yaml:4 autocert_ca: ignored unless autocert is true',
    ]);
    assert.equal(off.config?.tls?.autocert, null);
    const insecure = findings(`${HEAD}insecure_server: true\nautocert: true\n`);
    assert.deepEqual(insecure.errors, []);
    assert.equal(insecure.config?.tls, null);
    assert.ok(
      insecure.warnings.includes('c.yaml:4 insecure_server: TLS is off, so autocert is ignored'),
      insecure.warnings.join('\n'),
    );
  });

  it('address on port 80 needs http_redirect_addr elsewhere', () => {
    const text = `shared_secret: ${SECRET}\ncookie_secret: ${SECRET}\naddress: :80\nautocert: true\n`;
    assert.deepEqual(findings(text).errors, [
      'c.yaml:3 address: port 80 is where autocert answers ACME challenges: set http_redirect_addr to another port',
    ]);
  });

  it('autocert_trusted_ca is base64 of PEM; the _file form is read at start, errors at its line', () => {
    const inline = findings(`${HEAD}autocert: true\nautocert_trusted_ca: ${b64(ca.caPem)}\n`);
    assert.deepEqual(inline.config?.tls?.autocert?.trustedCa, { kind: 'inline', pem: ca.caPem });
    assert.equal(inline.config && loadAutocertTrust(inline.config), ca.caPem);
    const pem = findings(`${HEAD}autocert: true\nautocert_trusted_ca: ${b64('not pem')}\n`);
    assert.match(
      pem.errors[0] ?? '',
      /^c\.yaml:5 autocert_trusted_ca: expected base64 of a PEM certificate/,
    );
    const both = findings(
      `${HEAD}autocert: true\nautocert_trusted_ca: ${b64(ca.caPem)}\nautocert_trusted_ca_file: /x\n`,
    );
    assert.deepEqual(both.errors, [
      'c.yaml:6 autocert_trusted_ca_file: give autocert_trusted_ca or this, not both',
    ]);
    const file = join(dir, 'ca.pem');
    writeFileSync(file, ca.caPem);
    const fromEnv = parseConfig(`${HEAD}`, 'c.yaml', {
      AUTOCERT: 'true',
      AUTOCERT_CA: 'https://ca.example.test/dir',
      AUTOCERT_TRUSTED_CA_FILE: file,
    }).config;
    assert.equal(fromEnv.tls?.autocert?.directoryUrl, 'https://ca.example.test/dir');
    assert.equal(loadAutocertTrust(fromEnv), ca.caPem);
    for (const [content, message] of [
      [null, 'cannot read'],
      ['garbage', 'holds no PEM certificate'],
    ] as const) {
      const bad = join(dir, content === null ? 'missing.pem' : 'bad.pem');
      if (content !== null) writeFileSync(bad, content);
      const { config } = parseConfig(
        `${HEAD}autocert: true\nautocert_trusted_ca_file: ${bad}\n`,
        'c.yaml',
        {},
      );
      assert.throws(
        () => loadAutocertTrust(config),
        (err: unknown) =>
          err instanceof ConfigValidationError &&
          formatIssue(err.issues[0]!).startsWith(`c.yaml:5 autocert_trusted_ca_file: `) &&
          formatIssue(err.issues[0]!).includes(message),
      );
    }
  });
});
