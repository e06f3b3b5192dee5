import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import type { LoadedCertificate } from '../config/certificates.js';
import type { Config } from '../config/types.js';
import type { AcmeChallengeResponder } from '../tls/acme-challenge.js';
import { watchCertificateFiles } from '../tls/files.js';
import { CertificateStore } from '../tls/store.js';
import { closeServer, listen, type ListenOptions } from './listener.js';
import { createRedirectHandler, httpsPorts } from './redirect.js';

export interface EdgeOptions extends ListenOptions {
  readonly logger: Logger;
  /** Answers ACME HTTP-01 challenges on `http_redirect_addr` (`autocert`; without it: 404). */
  readonly challenges?: AcmeChallengeResponder;
  /** How often certificate files are looked at (tests; 2 s by default). */
  readonly certificatePollMs?: number;
}

/** The gateway's listeners and the certificates they serve. */
export interface Edge {
  readonly server: Server;
  /** Where `http_redirect_addr` listens; null when it is not set. */
  readonly redirect: Server | null;
  /** What HTTPS serves; null on plain HTTP. Autocert adds its certificates here. */
  readonly certificates: CertificateStore | null;
  close(): Promise<void>;
}

/**
 * Binds the main listener (HTTPS when certificates were loaded), then `http_redirect_addr`,
 * and starts following the certificate files. `certificates` come from `loadCertificates`,
 * which reported any problem with them as a configuration error already.
 */
export async function startEdge(
  config: Config,
  certificates: readonly LoadedCertificate[] | null,
  handler: Parameters<typeof listen>[3],
  options: EdgeOptions,
): Promise<Edge> {
  const { logger } = options;
  const store = certificates ? storeOf(certificates) : null;
  const main = { address: config.address, at: config.addressAt };
  const server = await listen(config, main, store, handler, options);
  const stops: (() => Promise<void> | void)[] = [() => closeServer(server)];
  const close = async () => {
    for (const stop of stops.splice(0).reverse()) await stop();
  };
  try {
    const redirect = await startRedirect(config, server, store, options);
    if (redirect) stops.push(() => closeServer(redirect));
    if (store && certificates) {
      stops.push(followFiles(store, certificates, options));
      for (const c of certificates) logServed(logger, c.id, c.served);
    }
    return { server, redirect, certificates: store, close };
  } catch (err) {
    await close();
    throw err;
  }
}

function storeOf(certificates: readonly LoadedCertificate[]): CertificateStore {
  const store = new CertificateStore();
  for (const c of certificates) store.put(c.id, c.served);
  return store;
}

async function startRedirect(
  config: Config,
  main: Server,
  store: CertificateStore | null,
  options: EdgeOptions,
): Promise<Server | null> {
  const redirect = config.tls?.httpRedirect;
  if (!redirect || !store) return null;
  const { port } = main.address() as AddressInfo;
  const handler = createRedirectHandler({
    httpsPort: httpsPorts(config, port),
    logger: options.logger,
    ...(options.challenges ? { challenges: options.challenges } : {}),
  });
  const server = await listen(config, redirect, null, handler, options);
  const bound = server.address() as AddressInfo;
  options.logger.info({ port: bound.port }, 'http_redirect_addr: listening (plain HTTP)');
  return server;
}

function followFiles(
  store: CertificateStore,
  certificates: readonly LoadedCertificate[],
  options: EdgeOptions,
): () => void {
  const { logger } = options;
  const watched = certificates.flatMap((c) => (c.watch ? [c.watch] : []));
  return watchCertificateFiles(store, watched, {
    intervalMs: options.certificatePollMs,
    onReloaded: (id, served, files) => logServed(logger, id, served, files.certFile),
    onError: (id, err, files) =>
      logger.error(
        { certificate: id, cert_file: files.certFile, key_file: files.keyFile, err: err.message },
        'certificate files changed but cannot be used: still serving the previous certificate',
      ),
  });
}

function logServed(
  logger: Logger,
  id: string,
  served: LoadedCertificate['served'],
  reloadedFrom?: string,
): void {
  const fields = {
    certificate: id,
    names: served.names,
    fingerprint256: served.fingerprint256,
    valid_to: served.validTo.toISOString(),
    ...(reloadedFrom ? { cert_file: reloadedFrom } : {}),
  };
  logger.info(fields, reloadedFrom ? 'certificate reloaded from its files' : 'certificate loaded');
  // Served all the same (it may be all there is), but every client will refuse it.
  if (served.validTo.getTime() < Date.now()) logger.warn(fields, 'certificate has expired');
}
