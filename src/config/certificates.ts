import {
  CertificateError,
  prepareCertificate,
  type ServedCertificate,
} from '../tls/certificate.js';
import { loadCertificateFiles, type WatchedFiles } from '../tls/files.js';
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
