import { readFileSync } from 'node:fs';
import {
  CertificateError,
  prepareCertificate,
  type ServedCertificate,
} from '../tls/certificate.js';
import { loadCertificateFiles, type WatchedFiles } from '../tls/files.js';
import { isPemCertificate } from './autocert.js';
import { ConfigValidationError, type ConfigIssue } from './issues.js';
import type { CertificateSource, Config } from './types.js';

export interface LoadedCertificate {
  /** The store entry: `config:<index>` in the configured order. */
  readonly id: string;
  readonly served: ServedCertificate;
  /** For certificates from files: what to watch for changes. */
  readonly watch: WatchedFiles | null;
}

/**
 * Reads and checks every configured certificate, at start. A missing file, a bad PEM or a key
 * that is not the certificate's is a configuration error at the line of the key that names it,
 * as if `check` had found it; all of them are reported at once.
 */
export function loadCertificates(config: Config): LoadedCertificate[] {
  const issues: ConfigIssue[] = [];
  const loaded: LoadedCertificate[] = [];
  (config.tls?.certificates ?? []).forEach((source, index) => {
    const id = `config:${index}`;
    try {
      loaded.push(loadOne(id, source));
    } catch (err) {
      if (!(err instanceof CertificateError)) throw err;
      issues.push({ severity: 'error', ...source.at[err.part], message: err.message });
    }
  });
  if (issues.length > 0) throw new ConfigValidationError(config.source, issues);
  return loaded;
}

function loadOne(id: string, source: CertificateSource): LoadedCertificate {
  if (source.kind === 'inline') {
    const served = prepareCertificate({ cert: source.certPem, key: source.keyPem });
    return { id, served, watch: null };
  }
  const { certFile, keyFile } = source;
  const { served, signature } = loadCertificateFiles({ certFile, keyFile });
  return { id, served, watch: { id, certFile, keyFile, signature } };
}

/**
 * The PEM of `autocert_trusted_ca` or `autocert_trusted_ca_file` (read now, at start: a file
 * that cannot be read or holds no certificate is a configuration error at its key's line).
 */
export function loadAutocertTrust(config: Config): string | null {
  const trusted = config.tls?.autocert?.trustedCa;
  if (!trusted) return null;
  if (trusted.kind === 'inline') return trusted.pem;
  let message: string;
  try {
    const pem = readFileSync(trusted.file, 'utf8');
    if (isPemCertificate(pem)) return pem;
    message = `${trusted.file} holds no PEM certificate`;
  } catch (err) {
    message = `cannot read ${trusted.file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`;
  }
  throw new ConfigValidationError(config.source, [{ severity: 'error', ...trusted.at, message }]);
}
