/** Everything requests are served from, built from storage and the secrets. */
import { mcpServerRoutes } from '../apps/accessible.js';
import { ClientTokens } from '../apps/client-tokens.js';
import { AssertionSigner } from '../assertion/sign.js';
import type { Config } from '../config/types.js';
import { createMcpAuthServer, type McpAuthServer } from '../oauth/server.js';
import { createForwarder } from '../proxy/forward.js';
import type { Storage } from '../storage/types.js';
import { UpstreamService } from '../upstream/service.js';
import type { GatewayOptions } from './gateway-options.js';
import { clientIp } from './identity.js';
import type { GatewayParts } from './parts.js';
import { buildSignIn, type GatewaySecrets, type SignIn } from './sign-in.js';

export interface Basics {
  readonly storage: Storage;
  readonly secrets: GatewaySecrets;
  readonly scheme: 'http' | 'https';
  readonly origin: string;
  readonly trustedProxy: (address: string) => boolean;
}

/** Everything requests are served from, built in order: each part from the ones before it. */
export async function buildParts(options: GatewayOptions, basics: Basics): Promise<GatewayParts> {
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
  const clientTokens = buildClientTokens(config, mcpAuth, storage);
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
  storage: Storage,
): ClientTokens | undefined {
  // Without an MCP server there is nothing for a token to be good for: apps get none.
  if (!mcpAuth || !config.routes.some((r) => r.mcp?.kind === 'client')) return undefined;
  return new ClientTokens({
    servers: mcpServerRoutes(config.routes),
    mint: (session, audiences) => mcpAuth.mintClientToken(session, audiences),
    revokeGrant: (grantId) => mcpAuth.revokeGrant(grantId),
    invalidation: storage.invalidation,
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
