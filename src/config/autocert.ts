/**
 * Automatic certificates, Pomerium's keys: `autocert`, `autocert_ca`, `autocert_use_staging`,
 * `autocert_email`, `autocert_dir`, `autocert_trusted_ca` (base64 of PEM, Pomerium's meaning) and
 * `autocert_trusted_ca_file` (a path, read at start as certificate files are, so `check` runs
 * where the file is not).
 */
import { X509Certificate } from 'node:crypto';
import { join } from 'node:path';
import type { Env } from '../core/env.js';
import type { IssueSink } from './issues.js';
import type { RawSettings } from './schema.js';
import type { AutocertConfig } from './types.js';

/** RFC 8555 directories of Let's Encrypt (https://letsencrypt.org/docs/staging-environment/). */
export const LETS_ENCRYPT = {
  production: 'https://acme-v02.api.letsencrypt.org/directory',
  staging: 'https://acme-staging-v02.api.letsencrypt.org/directory',
} as const;

const AUTOCERT_KEYS = [
  'autocert_ca',
  'autocert_use_staging',
  'autocert_email',
  'autocert_dir',
  'autocert_trusted_ca',
  'autocert_trusted_ca_file',
] as const;

/** undefined: an error was reported; null: `autocert` is off. */
export function checkAutocert(
  raw: RawSettings,
  env: Env,
  sink: IssueSink,
): AutocertConfig | null | undefined {
  if (raw.autocert !== true) {
    for (const key of AUTOCERT_KEYS) {
      if (raw[key] !== undefined) sink.warn([key], 'ignored unless autocert is true');
    }
    return null;
  }
  const trustedCa = trustedCaOf(raw, sink);
  if (trustedCa === undefined) return undefined;
  if (raw.autocert_ca !== undefined && raw.autocert_use_staging === true) {
    sink.warn(['autocert_use_staging'], 'ignored: autocert_ca names the ACME directory');
  }
  if (raw.shared_secret === undefined) {
    sink.warn(
      ['autocert'],
      'shared_secret is not set: the stored account and certificate keys cannot be opened after a restart, so certificates are ordered again each time (Let’s Encrypt issues at most 5 for the same names a week)',
    );
  }
  const staging = raw.autocert_use_staging === true;
  return {
    directoryUrl: raw.autocert_ca ?? (staging ? LETS_ENCRYPT.staging : LETS_ENCRYPT.production),
    email: raw.autocert_email ?? null,
    cacheDir: raw.autocert_dir ?? join(env.PORTCULLIS_DATA_DIR ?? 'data', 'autocert'),
    trustedCa,
  };
}

function trustedCaOf(raw: RawSettings, sink: IssueSink): AutocertConfig['trustedCa'] | undefined {
  const inline = raw.autocert_trusted_ca;
  const file = raw.autocert_trusted_ca_file;
  if (inline !== undefined && file !== undefined) {
    sink.error(['autocert_trusted_ca_file'], 'give autocert_trusted_ca or this, not both');
    return undefined;
  }
  if (file !== undefined) {
    return { kind: 'file', file, at: sink.locate(['autocert_trusted_ca_file']) };
  }
  if (inline === undefined) return null;
  // Go's decoder, which Pomerium uses, skips line breaks: a wrapped `base64 FILE` works there.
  const compact = inline.replace(/[\r\n]/g, '');
  const pem = /^[A-Za-z0-9+/]+={0,2}$/.test(compact)
    ? Buffer.from(compact, 'base64').toString('utf8')
    : '';
  if (!isPemCertificate(pem)) {
    sink.error(
      ['autocert_trusted_ca'],
      'expected base64 of a PEM certificate (base64 -w0 ca.pem), or a path in autocert_trusted_ca_file',
    );
    return undefined;
  }
  return { kind: 'inline', pem };
}

/** Whether `pem` starts a PEM certificate that parses (the first of a bundle is checked). */
export function isPemCertificate(pem: string): boolean {
  if (!pem.includes('-----BEGIN CERTIFICATE-----')) return false;
  try {
    new X509Certificate(pem);
    return true;
  } catch {
    return false;
  }
}
