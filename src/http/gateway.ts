import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { loadCertificates, type LoadedCertificate } from '../config/certificates.js';
import type { Config } from '../config/types.js';
import { ConfigError } from '../core/errors.js';
import { randomId } from '../core/crypto.js';
import { mcpServerRoutes } from '../apps/accessible.js';
import { ClientTokens } from '../apps/client-tokens.js';
import { AssertionSigner } from '../assertion/sign.js';
import { createForwarder } from '../proxy/forward.js';
import { compileTrustedProxies } from '../net/trusted-proxies.js';
import { openStorage } from '../storage/open.js';
import type { Storage } from '../storage/types.js';
import { createMcpAuthServer, type McpAuthServer } from '../oauth/server.js';
import type { Lifetimes } from '../oauth/provider.js';
import type { CimdFetchOptions } from '../oauth/cimd.js';
import { UpstreamService, type UpstreamServiceOptions } from '../upstream/service.js';
import { clientIp } from './identity.js';
import { startEdge } from './edge.js';
import { createRequestHandler } from './dispatch.js';
import type { GatewayParts } from './parts.js';
import { ReadinessGate } from './readiness.js';
import { buildSignIn, type GatewaySecrets, type SignIn } from './sign-in.js';

export { requestPath } from './request-target.js';

export interface GatewayOptions {
  readonly config: Config;
  readonly logger: Logger;
  /** Addresses whose X-Forwarded-* headers are believed (addresses or CIDR ranges). */
  readonly trustedProxies?: readonly string[];
  /** Tuning of the OAuth server for MCP clients (tests; defaults suit production). */
  readonly oauth?: {
    readonly lifetimes?: Partial<Lifetimes>;
    readonly rateLimits?: Parameters<typeof createMcpAuthServer>[0]['rateLimits'];
    readonly cimdFetch?: Omit<CimdFetchOptions, 'allowPrivateHosts'>;
    readonly clientNeverUsedTtlMs?: number;
    readonly clientUnusedTtlMs?: number;
  };
  /** Tuning of the upstream-token vault for tests (a clock, discovery's CA and resolver). */
  readonly upstream?: Pick<UpstreamServiceOptions, 'now' | 'client'> & {
    readonly fetch?: Omit<UpstreamServiceOptions['discovery']['fetch'], 'allowPrivateHosts'>;
  };
  /** Tuning of sign-in for tests: the clock of sign-in across hosts. */
  readonly signIn?: { readonly handoffClock?: () => number };
  /**
   * Keep answering 503 (health checks too) after start until `markReady()`: for a caller that
   * still has start-up work the gateway depends on (`portcullis dev` creates its user).
   */
  readonly holdReadiness?: boolean;
}

export interface Gateway {
  /** Where the gateway listens, e.g. `http://127.0.0.1:8080`. */
  readonly url: string;
  readonly port: number;
  /** The public origin used for sign-in callbacks and the built-in provider. */
  readonly origin: string;
  readonly storage: Storage;
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
  const storage = await openStorage(config.storage, {
    onError: (err) => logger.warn({ err }, 'storage: an idle connection failed'),
  });
  // Run in order on close (or on a failed start): the last thing started stops first.
  const closers: Closer[] = [() => storage.close()];
  try {
    return await assemble(options, { storage, secrets, scheme, certificates }, closers);
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
}

async function assemble(
  options: GatewayOptions,
  { storage, secrets, scheme, certificates }: Loaded,
  closers: Closer[],
): Promise<Gateway> {
  const { config, logger } = options;
  const trustedProxy = compileTrustedProxies(options.trustedProxies ?? config.trustedProxies);
  // The port is bound first (the public origin may need it); its one handler answers 503
  // until everything behind it is built and the caller says it is ready.
  const gate = new ReadinessGate();
  const edge = await startEdge(config, certificates, gate.handler, {
    logger,
    trustedProxy,
    onCapped: (address) =>
      logger.warn({ address }, 'connections from this address reached max_connections_per_address'),
  });
  closers.unshift(() => edge.close());
  const address = edge.server.address() as AddressInfo;
  const origin = publicOrigin(config, scheme, address.port);
  const parts = await buildParts(options, { storage, secrets, scheme, origin, trustedProxy });
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
    markReady,
    close: closeOnce(closers, logger),
  };
}

interface Basics {
  readonly storage: Storage;
  readonly secrets: GatewaySecrets;
  readonly scheme: 'http' | 'https';
  readonly origin: string;
  readonly trustedProxy: (address: string) => boolean;
}

/** Everything requests are served from, built in order: each part from the ones before it. */
async function buildParts(options: GatewayOptions, basics: Basics): Promise<GatewayParts> {
  const { config, logger } = options;
  const { storage, secrets, scheme, trustedProxy } = basics;
  const signer = await AssertionSigner.create({
    store: storage.signingKeys,
    sharedSecret: secrets.sharedSecret,
    signingKeyPem: config.signingKey ?? undefined,
    onError: (err) => logger.error({ err }, 'assertion keys: reload failed'),
  });
  // Sign-in is built before the OAuth server, which must hear of the sessions it ends: a
  // grant's tokens die with the session it was made under, so sign-out takes effect now.
  const endedSessions = new Set<(idHash: string) => void>();
  const onSessionEnded = (idHash: string) => endedSessions.forEach((tell) => tell(idHash));
  const signIn = await buildSignIn({
    ...basics,
    config,
    logger,
    onSessionEnded,
    ...options.signIn,
  });
  const upstream = buildUpstream(options, storage, secrets);
  const mcpAuth = await buildMcpAuth(options, storage, secrets, signIn, trustedProxy, upstream);
  if (mcpAuth) endedSessions.add((idHash) => mcpAuth.sessionEnded(idHash));
  const clientTokens = buildClientTokens(config, mcpAuth);
  if (clientTokens) endedSessions.add((idHash) => clientTokens.forget(idHash));
  const forwarder = createForwarder({ logger });
  return {
    config,
    logger,
    scheme,
    storage,
    signer,
    signIn,
    forwarder,
    trustedProxy,
    mcpAuth,
    upstream,
    clientTokens,
  };
}

/** Client mode's tokens, when some app sits behind an `mcp.client` route. */
function buildClientTokens(
  config: Config,
  mcpAuth: McpAuthServer | undefined,
): ClientTokens | undefined {
  // Without an MCP server there is nothing for a token to be good for: apps get none.
  if (!mcpAuth || !config.routes.some((r) => r.mcp?.kind === 'client')) return undefined;
  return new ClientTokens({
    servers: mcpServerRoutes(config.routes),
    mint: (session, audiences) => mcpAuth.mintClientToken(session, audiences),
    revokeGrant: (grantId) => mcpAuth.revokeGrant(grantId),
  });
}

/** The upstream-token vault, when some route holds upstream tokens. */
function buildUpstream(
  options: GatewayOptions,
  storage: Storage,
  secrets: GatewaySecrets,
): UpstreamService | undefined {
  const { config } = options;
  if (!config.routes.some((r) => r.mcp?.kind === 'server')) return undefined;
  const { fetch, ...tuning } = options.upstream ?? {};
  // The routes' own upstreams were named by the operator: their metadata is fetched wherever
  // they are. What those upstreams name in turn passes the address guard.
  const upstreamHosts = config.routes.flatMap((r) => r.to.map((to) => new URL(to).hostname));
  return new UpstreamService({
    routes: config.routes,
    storage,
    sharedSecret: secrets.sharedSecret,
    logger: options.logger,
    discovery: {
      allowedAsDomains: config.mcpAllowedAsMetadataDomains,
      fetch: { ...fetch, allowPrivateHosts: [...config.mcpAllowedPrivateHosts, ...upstreamHosts] },
    },
    ...tuning,
  });
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

/** The OAuth server for MCP clients, when some route is an `mcp.server`. */
async function buildMcpAuth(
  options: GatewayOptions,
  storage: Storage,
  secrets: GatewaySecrets,
  { sessions }: SignIn,
  trustedProxy: (address: string) => boolean,
  upstream: UpstreamService | undefined,
): Promise<McpAuthServer | undefined> {
  const { config, logger } = options;
  if (!config.routes.some((r) => r.mcp?.kind === 'server')) return undefined;
  return createMcpAuthServer({
    routes: config.routes,
    storage,
    sharedSecret: secrets.sharedSecret,
    cookieSecret: secrets.cookieSecret,
    dynamicRegistration: config.runtimeFlags.mcpDynamicClientRegistration,
    allowedClientIdDomains: config.mcpAllowedClientIdDomains,
    allowedPrivateHosts: config.mcpAllowedPrivateHosts,
    authenticate: (req) => sessions.authenticate(req),
    startSignIn: (req, res, returnTo) => sessions.startSignIn(req, res, returnTo),
    clientIp: (req) => clientIp(req, trustedProxy),
    ...(upstream ? { upstream } : {}),
    logger,
    ...options.oauth,
  });
}

/** Periodic clean-up of expired sessions, old login attempts and OAuth state; returns its stop. */
function startSweeps(storage: Storage, mcpAuth: McpAuthServer | undefined, logger: Logger): Closer {
  const sweep = setInterval(() => {
    const now = Date.now();
    void Promise.all([
      storage.sessions.sweep(now),
      storage.loginAttempts.prune(now - 24 * 3_600_000),
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
