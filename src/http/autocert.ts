/**
 * `autocert` in the gateway: which hosts get a certificate from ACME, and the `Autocert` that
 * gets them, built from the config.
 */
import { isIP } from 'node:net';
import type { Logger } from 'pino';
import type { LoadedCertificate } from '../config/certificates.js';
import type { Config } from '../config/types.js';
import type { Storage } from '../storage/types.js';
import type { Autocert, AutocertTuning } from '../tls/acme.js';
import type { ServedCertificate } from '../tls/certificate.js';

/**
 * The hosts of every route's `from` and of `authenticate_service_url`, less those a configured
 * certificate names already, IP addresses, and wildcard names (HTTP-01 cannot prove a wildcard,
 * RFC 8555 §8.3 and §7.1.3).
 */
export function autocertHosts(
  config: Config,
  configured: readonly LoadedCertificate[],
  logger: Logger,
): string[] {
  const hosts = new Set<string>();
  for (const url of [config.authenticateServiceUrl, ...config.routes.map((r) => r.from)]) {
    if (url) hosts.add(new URL(url).hostname.toLowerCase());
  }
  return [...hosts].filter((host) => {
    if (isIP(host.replace(/^\[(.*)\]$/, '$1')) !== 0) return false;
    if (host.includes('*')) {
      logger.warn({ host }, 'autocert: no certificate for a wildcard host (HTTP-01 cannot)');
      return false;
    }
    return !configured.some((c) => covers(c.served, host));
  });
}

function covers(served: ServedCertificate, host: string): boolean {
  const parent = host.slice(host.indexOf('.') + 1);
  return served.names.some((name) => name === host || name === `*.${parent}`);
}

export interface AutocertParts {
  readonly config: Config;
  readonly storage: Storage;
  readonly sharedSecret: string;
  readonly configured: readonly LoadedCertificate[];
  /** `autocert_trusted_ca(_file)`, read at start (`loadAutocertTrust`). */
  readonly trustedCaPem: string | null;
  readonly logger: Logger;
  readonly tuning?: AutocertTuning;
}

/**
 * The `Autocert` for `config`, or null when autocert is off. The ACME code is loaded only when
 * it is on: acme-client and what it brings (axios, node-forge, @peculiar/x509) are 5 MiB of
 * heap that a gateway without autocert would hold for nothing (docs/performance.md).
 */
export async function buildAutocert(parts: AutocertParts): Promise<Autocert | null> {
  const { config, logger } = parts;
  const settings = config.tls?.autocert;
  if (!settings) return null;
  const hosts = autocertHosts(config, parts.configured, logger);
  logger.info({ hosts, ca: settings.directoryUrl }, 'autocert: on');
  const { Autocert } = await import('../tls/acme.js');
  return new Autocert({
    hosts,
    directoryUrl: settings.directoryUrl,
    email: settings.email,
    trustedCaPem: parts.trustedCaPem,
    cacheDir: settings.cacheDir,
    storage: parts.storage,
    sharedSecret: parts.sharedSecret,
    logger,
    ...(parts.tuning ? { tuning: parts.tuning } : {}),
  });
}
