import type { Logger } from 'pino';
import type { Config } from '../config/types.js';
import { createBuiltinIdp, type BuiltinIdp } from '../idp/provider.js';
import { SignInHosts } from '../session/hosts.js';
import { SessionManager } from '../session/manager.js';
import { createRelyingParty } from '../session/oidc.js';
import { callbackUrl } from '../session/return-to.js';
import type { Storage } from '../storage/types.js';
import { rememberingIdentities } from './identity.js';

export interface GatewaySecrets {
  readonly sharedSecret: string;
  readonly cookieSecret: string;
}

export interface SignIn {
  /** The built-in provider, when the config asks for it instead of an external one. */
  readonly idp: BuiltinIdp | undefined;
  readonly sessions: SessionManager;
}

export interface SignInOptions {
  readonly config: Config;
  readonly logger: Logger;
  readonly storage: Storage;
  readonly secrets: GatewaySecrets;
  readonly scheme: 'http' | 'https';
  /** The gateway's public origin (sign-in callback, built-in provider). */
  readonly origin: string;
  /** Told when a session is deleted in this process (sign-out, failed refresh). */
  readonly onSessionEnded?: (idHash: string) => void;
  /** The clock of sign-in across hosts (tests). */
  readonly handoffClock?: () => number;
}

/** Browser sign-in: the built-in provider or any OIDC provider, and the session cookie. */
export async function buildSignIn(options: SignInOptions): Promise<SignIn> {
  const { config, logger, storage, secrets, origin } = options;
  const redirectUri = callbackUrl(origin, config.authenticateServiceUrl);
  const hosts = new SignInHosts(
    origin,
    config.routes.map((r) => r.from),
    options.scheme,
  );
  let idp: BuiltinIdp | undefined;
  let rp;
  if (config.idp.provider === 'builtin') {
    idp = await createBuiltinIdp({
      gatewayOrigin: origin,
      redirectUri,
      storage,
      users: config.idp.users,
      // After sign-in the browser goes on to the route host it came from (a hand-off).
      handoffOrigins: hosts.crossHost ? hosts.routeOriginList() : [],
      sharedSecret: secrets.sharedSecret,
      cookieSecret: secrets.cookieSecret,
      logger,
    });
    rp = createRelyingParty(idp.relyingParty);
  } else {
    rp = createRelyingParty({
      issuerUrl: config.idp.providerUrl,
      clientId: config.idp.clientId,
      clientSecret: config.idp.clientSecret,
      scopes: config.idp.scopes,
      redirectUri,
    });
  }
  const remembering = rememberingIdentities(storage.sessions, storage.identities);
  const sessions = new SessionManager({
    storage: {
      sessions: {
        ...remembering,
        async delete(idHash) {
          await remembering.delete(idHash);
          options.onSessionEnded?.(idHash);
        },
      },
    },
    cookieSecret: secrets.cookieSecret,
    sharedSecret: secrets.sharedSecret,
    secureCookies: options.scheme === 'https',
    idp: rp,
    // The built-in provider's login session ends with the gateway's at sign-out.
    ...(idp ? { endProviderSession: idp.endSession } : {}),
    logger,
    ...(hosts.crossHost
      ? {
          crossHost: {
            hosts,
            oauth: storage.oauth,
            ...(options.handoffClock ? { clock: options.handoffClock } : {}),
          },
        }
      : {}),
  });
  return { idp, sessions };
}
