/**
 * A certificate and its key, checked once and made ready to serve: the names it is good for
 * (its subjectAltName DNS entries) and a TLS context. Everything that serves a certificate
 * (configured files and values, ACME) goes through `prepareCertificate`.
 */
import { X509Certificate, createPrivateKey, type KeyObject } from 'node:crypto';
import { createSecureContext, type SecureContext } from 'node:tls';

/** PEM text: the certificate (the leaf first, then any intermediates) and its private key. */
export interface CertificatePair {
  readonly cert: string;
  readonly key: string;
}

export interface ServedCertificate {
  readonly pair: CertificatePair;
  /** Lower-case DNS names from subjectAltName, wildcards (`*.example.com`) included. */
  readonly names: readonly string[];
  /** SHA-256 of the leaf, `AB:CD:…` (for logs). */
  readonly fingerprint256: string;
  readonly validFrom: Date;
  readonly validTo: Date;
  readonly context: SecureContext;
}

/** Which half of a pair is at fault, so the message can point at the key that names it. */
export type PairPart = 'cert' | 'key';

export class CertificateError extends Error {
  readonly code = 'ERR_CERTIFICATE';
  constructor(
    readonly part: PairPart,
    message: string,
  ) {
    super(message);
    this.name = 'CertificateError';
  }
}

/** Checks that `pair` is a PEM certificate and the private key of that certificate. */
export function prepareCertificate(pair: CertificatePair): ServedCertificate {
  const leaf = parseCertificate(pair.cert);
  const key = parseKey(pair.key);
  if (!leaf.checkPrivateKey(key)) {
    throw new CertificateError('key', 'the private key does not match the certificate');
  }
  let context: SecureContext;
  try {
    context = createSecureContext({ cert: pair.cert, key: pair.key });
  } catch (err) {
    throw new CertificateError('cert', `cannot be served: ${reason(err)}`);
  }
  return {
    pair,
    names: dnsNames(leaf),
    fingerprint256: leaf.fingerprint256,
    validFrom: new Date(leaf.validFrom),
    validTo: new Date(leaf.validTo),
    context,
  };
}

const CERT_BLOCK = /-----BEGIN CERTIFICATE-----/;
const KEY_BLOCK = /-----BEGIN ((?:RSA |EC |ENCRYPTED )?)PRIVATE KEY-----/;

function parseCertificate(pem: string): X509Certificate {
  if (!CERT_BLOCK.test(pem)) {
    throw new CertificateError('cert', 'expected a PEM certificate (-----BEGIN CERTIFICATE-----)');
  }
  try {
    return new X509Certificate(pem);
  } catch (err) {
    throw new CertificateError('cert', `not a valid PEM certificate: ${reason(err)}`);
  }
}

function parseKey(pem: string): KeyObject {
  const block = KEY_BLOCK.exec(pem);
  if (!block) {
    throw new CertificateError('key', 'expected a PEM private key (-----BEGIN PRIVATE KEY-----)');
  }
  // The gateway restarts unattended: there is nobody to type a passphrase.
  if (block[1] === 'ENCRYPTED ') {
    throw new CertificateError('key', 'an encrypted private key cannot be used; decrypt it first');
  }
  try {
    return createPrivateKey(pem);
  } catch (err) {
    throw new CertificateError('key', `not a valid PEM private key: ${reason(err)}`);
  }
}

/**
 * The DNS names of subjectAltName. Node writes them as `DNS:a.example.com, DNS:*.example.com,
 * IP Address:127.0.0.1`, quoting an entry that holds a comma or a quote; no valid host name does,
 * so quoted entries are skipped. The subject's CN is not used: clients match on SAN only
 * (RFC 6125 §6.4.4 leaves CN as a fallback that browsers dropped).
 */
export function dnsNames(cert: X509Certificate): string[] {
  const san = cert.subjectAltName;
  if (san === undefined) return [];
  const names: string[] = [];
  for (const entry of san.split(', ')) {
    if (!entry.startsWith('DNS:')) continue;
    const name = entry.slice(4).toLowerCase();
    if (/^(\*\.)?[a-z0-9_-]+(\.[a-z0-9_-]+)*\.?$/.test(name)) names.push(name.replace(/\.$/, ''));
  }
  return names;
}

/** OpenSSL's message without its `error:0680007B:…:` prefix. */
function reason(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  return message.replace(/^error:[0-9A-F]+:[^:]*:[^:]*:/, '').trim() || message;
}
