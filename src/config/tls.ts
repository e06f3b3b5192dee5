/**
 * The certificate keys (Pomerium's): `certificate_file` + `certificate_key_file`, `certificate` +
 * `certificate_key` (base64 of PEM), `certificates: [{cert, key}]` (file paths), and
 * `http_redirect_addr`. Values given inline are checked here; files are read at start
 * (`certificates.ts`), so `check` runs where the files are not.
 */
import { CertificateError, prepareCertificate } from '../tls/certificate.js';
import { parseAddress } from './address.js';
import type { IssueSink, Path } from './issues.js';
import type { RawSettings } from './schema.js';
import type { Address, AutocertConfig, CertificateSource, TlsConfig } from './types.js';

const LOOPBACK = new Set(['localhost', '127.0.0.1', '::1']);

/**
 * undefined: an error was reported; null: no TLS. With `autocert` TLS is on without any
 * certificate configured: the store is filled by ACME.
 */
export function checkTls(
  raw: RawSettings,
  insecure: boolean,
  address: Address | undefined,
  autocert: AutocertConfig | null,
  sink: IssueSink,
): TlsConfig | null | undefined {
  const sources = certificateSources(raw, sink);
  const redirect = redirectAddress(raw, address, autocert !== null && !insecure, sink);
  if (sources === undefined || redirect === undefined) return undefined;
  const given = firstGiven(raw) ?? (autocert ? 'autocert' : undefined);
  if (insecure) {
    if (given) sink.warn(['insecure_server'], `TLS is off, so ${given} is ignored`);
    if (address !== undefined && !LOOPBACK.has(address.host)) {
      const where = address.host === '' ? 'every interface' : address.host;
      sink.warn(
        ['insecure_server'],
        `plain HTTP on ${where}: tokens and cookies cross the network unencrypted; use only behind a TLS-terminating proxy`,
      );
    }
  } else if (sources.length === 0 && !autocert) {
    sink.warn(
      ['certificate_file'],
      'no certificate: the gateway will not start without certificate_file and certificate_key_file (or certificate and certificate_key, or certificates), or insecure_server: true for plain HTTP',
    );
  }
  const tls = insecure || (sources.length === 0 && !autocert) ? null : sources;
  if (redirect !== null && tls === null) {
    sink.error(
      ['http_redirect_addr'],
      `redirects to HTTPS, which is off: ${insecure ? 'insecure_server is true' : 'no certificate is configured'}`,
    );
    return undefined;
  }
  return tls && { certificates: tls, autocert: insecure ? null : autocert, httpRedirect: redirect };
}

const CERT_KEYS = ['certificate', 'certificate_key', 'certificates', 'certificate_file'] as const;

function firstGiven(raw: RawSettings): string | undefined {
  return CERT_KEYS.find((k) => raw[k] !== undefined && raw[k]?.length !== 0);
}

/** Pomerium's order: `certificate`, `certificates`, `certificate_file`. */
function certificateSources(raw: RawSettings, sink: IssueSink): CertificateSource[] | undefined {
  const sources: CertificateSource[] = [];
  let ok = true;
  const inlinePair = bothOrNeither(raw, 'certificate', 'certificate_key', sink);
  if (inlinePair === undefined) ok = false;
  else if (inlinePair) {
    const inline = inlineSource(inlinePair[0], inlinePair[1], sink);
    if (inline) sources.push(inline);
    else ok = false;
  }
  (raw.certificates ?? []).forEach((entry, i) => {
    const at = (part: string): Path => ['certificates', i, part];
    sources.push({
      kind: 'files',
      certFile: entry.cert,
      keyFile: entry.key,
      at: { cert: sink.locate(at('cert')), key: sink.locate(at('key')) },
    });
  });
  const filePair = bothOrNeither(raw, 'certificate_file', 'certificate_key_file', sink);
  if (filePair === undefined) ok = false;
  else if (filePair) {
    sources.push({
      kind: 'files',
      certFile: filePair[0],
      keyFile: filePair[1],
      at: { cert: sink.locate(['certificate_file']), key: sink.locate(['certificate_key_file']) },
    });
  }
  return ok ? sources : undefined;
}

type PairKey = 'certificate' | 'certificate_key' | 'certificate_file' | 'certificate_key_file';

/** The two values, false when neither is set, undefined (reported) when only one is. */
function bothOrNeither(raw: RawSettings, certKey: PairKey, keyKey: PairKey, sink: IssueSink) {
  const cert = raw[certKey];
  const key = raw[keyKey];
  if (cert === undefined && key === undefined) return false;
  if (cert === undefined || key === undefined) {
    const [missing, other] = cert === undefined ? [certKey, keyKey] : [keyKey, certKey];
    sink.error([missing], `required when ${other} is set`, [other]);
    return undefined;
  }
  return [cert, key] as const;
}

/** `certificate` / `certificate_key`: base64 of PEM, as Pomerium reads them. */
function inlineSource(cert: string, key: string, sink: IssueSink): CertificateSource | undefined {
  const certPem = decodePem(cert, 'certificate', sink);
  const keyPem = decodePem(key, 'certificate_key', sink);
  if (certPem === undefined || keyPem === undefined) return undefined;
  try {
    prepareCertificate({ cert: certPem, key: keyPem });
  } catch (err) {
    if (!(err instanceof CertificateError)) throw err;
    sink.error([err.part === 'cert' ? 'certificate' : 'certificate_key'], err.message);
    return undefined;
  }
  const at = { cert: sink.locate(['certificate']), key: sink.locate(['certificate_key']) };
  return { kind: 'inline', certPem, keyPem, at };
}

function decodePem(value: string, key: string, sink: IssueSink): string | undefined {
  if (value.trimStart().startsWith('-----BEGIN')) {
    sink.error(
      [key],
      `expected base64 of the PEM text (Pomerium's meaning), got PEM itself: encode it (base64 -w0 FILE), or give a file with ${key}_file`,
    );
    return undefined;
  }
  // Go's decoder, which Pomerium uses, skips line breaks: a wrapped `base64 FILE` works there.
  const compact = value.replace(/[\r\n]/g, '');
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(compact)) {
    sink.error([key], 'expected base64 of a PEM file (base64 -w0 FILE)');
    return undefined;
  }
  return Buffer.from(compact, 'base64').toString('utf8');
}

/**
 * `http_redirect_addr`, such as `:80`; null when not set. With autocert it defaults to `:80`,
 * where the CA asks for HTTP-01 challenges (RFC 8555 §8.3).
 */
function redirectAddress(
  raw: RawSettings,
  main: Address | undefined,
  autocert: boolean,
  sink: IssueSink,
): TlsConfig['httpRedirect'] | undefined {
  if (raw.http_redirect_addr === undefined) {
    if (!autocert) return null;
    if (main?.port === 80) {
      sink.error(
        ['address'],
        'port 80 is where autocert answers ACME challenges: set http_redirect_addr to another port',
      );
      return undefined;
    }
    return { address: { host: '', port: 80 }, at: sink.locate(['autocert']) };
  }
  // Pomerium strips quotes a shell or a .env file left around the value (its #811).
  const text = raw.http_redirect_addr.replace(/^["']+|["']+$/g, '');
  const address = parseAddress(text, 'http_redirect_addr', sink);
  if (address === undefined) return undefined;
  if (main && main.port === address.port && main.port !== 0) {
    if (main.host === '' || address.host === '' || main.host === address.host) {
      sink.error(['http_redirect_addr'], `the same port as address (${main.port})`);
      return undefined;
    }
  }
  return { address, at: sink.locate(['http_redirect_addr']) };
}
