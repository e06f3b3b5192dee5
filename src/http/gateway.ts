import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import {
  loadAutocertTrust,
  loadCertificates,
  type LoadedCertificate,
} from '../config/certificates.js';
import type { Config } from '../config/types.js';
import { ConfigError } from '../core/errors.js';
import { randomId } from '../core/crypto.js';
import { compileTrustedProxies } from '../net/trusted-proxies.js';
import { startTracing } from '../observe/tracing.js';
import type { Tracing } from '../observe/types.js';
import { openStorage } from '../storage/open.js';
import type { Storage } from '../storage/types.js';
import type { McpAuthServer } from '../oauth/server.js';
import { routeName } from '../mcp/pipeline/context.js';
import { startMetrics } from '../observe/metrics-server.js';
import { combineObservers } from '../observe/observer.js';
import { timedStorage } from '../observe/storage-latency.js';
import { buildAutocert } from './autocert.js';
import { buildParts } from './build-parts.js';
import { startEdge } from './edge.js';
import { createRequestHandler } from './dispatch.js';
import type { GatewayOptions } from './gateway-options.js';
import { ReadinessGate } from './readiness.js';
import type { GatewaySecrets } from './sign-in.js';

export type { GatewayOptions } from './gateway-options.js';
export { requestPath } from './request-target.js';

export interface Gateway {
  /** Where the gateway listens, e.g. `http://127.0.0.1:8080`. */
  readonly url: string;
  readonly port: number;
  /** The public origin used for sign-in callbacks and the built-in provider. */
  readonly origin: string;
  readonly storage: Storage;
  /** Where `/metrics` is served (`metrics_address`); undefined without metrics. */
  readonly metricsUrl: string | undefined;
  /** Starts serving requests (called by `startGateway` itself unless `holdReadiness`). */
  markReady(): void;
  close(): Promise<void>;
}

type Closer = () => Promise<void> | void;

const SWEEP_INTERVAL_MS = 5 * 60_000;

/**
 * Starts the gateway from a validated config: storage, the identity assertion signer, sign-in
 * (the built-in provider or any OIDC provider), routes with policy, and the streaming proxy.
 */
export async function startGateway(options: GatewayOptions): Promise<Gateway> {
  const { config, logger } = options;
  const secrets: GatewaySecrets = {
    sharedSecret: config.sharedSecret ?? generatedSecret(logger, 'shared_secret'),
    cookieSecret: config.cookieSecret ?? generatedSecret(logger, 'cookie_secret'),
  };
  const scheme = config.tls ? 'https' : 'http';
  if (!config.tls && !config.insecureServer) {
    throw new ConfigError(
      `${config.source} certificate_file`,
      'no TLS certificate: set certificate_file and certificate_key_file (or certificate and certificate_key, or certificates), or insecure_server: true for plain HTTP',
    );
  }
  // Before storage: a certificate that cannot be served is a config error, and touches nothing.
  const certificates = config.tls ? loadCertificates(config) : null;
  const acmeTrust = loadAutocertTrust(config);
  const storage = await openStorage(config.storage, {
    source: `${config.source} databroker_storage_connection_string`,
    onError: (err) => logger.warn({ err }, 'storage: an idle connection failed'),
  });
  // Run in order on close (or on a failed start): the last thing started stops first.
  const closers: Closer[] = [() => storage.close()];
  try {
    // Stopped after the listener (closers run first to last), so the last requests' spans go out.
    const tracing = await startTracing(config.tracing, logger);
    if (tracing) closers.unshift(() => tracing.shutdown());
    const loaded: Loaded = { storage, secrets, scheme, certificates, acmeTrust, tracing };
    return await assemble(options, loaded, closers);
  } catch (err) {
    for (const close of closers) await close();
    throw err;
  }
}

interface Loaded {
  readonly storage: Storage;
  readonly secrets: GatewaySecrets;
  readonly scheme: 'http' | 'https';
  readonly certificates: readonly LoadedCertificate[] | null;
  /** `autocert_trusted_ca(_file)`, read. */
  readonly acmeTrust: string | null;
  readonly tracing: Tracing | undefined;
}

async function assemble(
  options: GatewayOptions,
  { storage, secrets, scheme, certificates, acmeTrust, tracing }: Loaded,
  closers: Closer[],
): Promise<Gateway> {
  const { config, logger } = options;
  const trustedProxy = compileTrustedProxies(options.trustedProxies ?? config.trustedProxies);
  const autocert = await buildAutocert({
    config,
    storage,
    sharedSecret: secrets.sharedSecret,
    configured: certificates ?? [],
    trustedCaPem: acmeTrust,
    logger,
    ...(options.autocert ? { tuning: options.autocert } : {}),
  });
  // The port is bound first (the public origin may need it); its one handler answers 503
  // until everything behind it is built and the caller says it is ready.
  const gate = new ReadinessGate();
  const edge = await startEdge(config, certificates, gate.handler, {
    logger,
    trustedProxy,
    onCapped: (address) =>
      logger.warn({ address }, 'connections from this address reached max_connections_per_address'),
    ...(autocert ? { challenges: autocert.responder } : {}),
  });
  closers.unshift(() => edge.close());
  if (autocert && edge.certificates) {
    closers.unshift(() => autocert.close());
    await autocert.start(edge.certificates);
  }
  const address = edge.server.address() as AddressInfo;
  const origin = publicOrigin(config, scheme, address.port);
  const { metrics, observer, served } = await startObserving(options, storage, closers);
  const basics = {
    storage: served,
    secrets,
    scheme,
    origin,
    trustedProxy,
    tracer: tracing?.tracer,
  };
  const parts = await buildParts({ ...options, ...(observer ? { observer } : {}) }, basics);
  closers.unshift(() => parts.forwarder.close());
  closers.unshift(startSweeps(storage, parts.mcpAuth, logger));
  const serve = createRequestHandler(parts);
  const markReady = () => gate.open(serve);
  if (!options.holdReadiness) markReady();

  const hostPart = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  const url = `${scheme}://${hostPart}:${address.port}`;
  logger.info({ url, origin, routes: config.routes.length }, 'gateway listening');
  return {
    url,
    port: address.port,
    origin,
    storage,
    metricsUrl: metrics?.url,
    markReady,
    close: closeOnce(closers, logger),
  };
}

/** Runs the closers once, however often close() is called. */
function closeOnce(closers: readonly Closer[], logger: Logger): () => Promise<void> {
  let closing: Promise<void> | undefined;
  return () =>
    (closing ??= (async () => {
      for (const close of closers) await close();
      logger.info('gateway stopped');
    })());
}

/** Periodic clean-up of expired sessions, old login attempts and OAuth state; returns its stop. */
function startSweeps(storage: Storage, mcpAuth: McpAuthServer | undefined, logger: Logger): Closer {
  const sweep = setInterval(() => {
    const now = Date.now();
    void Promise.all([
      storage.sessions.sweep(now),
      storage.loginAttempts.prune(now - 24 * 3_600_000),
      storage.rateCounters.prune(now),
      // The built-in provider's records too, also when no MCP route needs an OAuth server.
      mcpAuth ? mcpAuth.sweep() : storage.oauth.sweep(now),
    ]).catch((err: unknown) => logger.warn({ err }, 'storage sweep failed'));
  }, SWEEP_INTERVAL_MS);
  sweep.unref();
  return () => clearInterval(sweep);
}

function generatedSecret(logger: Logger, key: string): string {
  logger.warn(
    { key },
    `${key} is not set: using a random one, so sessions and stored secrets do not survive a restart`,
  );
  return randomId(32);
}

/**
 * The origin browsers use for the gateway itself (sign-in callback, built-in provider):
 * `authenticate_service_url`, else the first route's `from`, else the listener.
 */
function publicOrigin(config: Config, scheme: string, port: number): string {
  if (config.authenticateServiceUrl) return new URL(config.authenticateServiceUrl).origin;
  const first = config.routes[0];
  if (first) return new URL(first.from).origin;
  return `${scheme}://localhost:${port}`;
}

/**
 * Metrics (with `metrics_address`) and the observer the pipeline reports to; the storage the
 * request path reads through, timed only when someone listens.
 */
async function startObserving(options: GatewayOptions, storage: Storage, closers: Closer[]) {
  const { config, logger } = options;
  const metrics = config.metrics
    ? await startMetrics(config.metrics, config.routes.map(routeName), logger)
    : undefined;
  if (metrics) closers.unshift(() => metrics.close());
  const observer = combineObservers(options.observer, metrics?.observer);
  const served = observer ? timedStorage(storage, observer) : storage;
  return { metrics, observer, served };
}
