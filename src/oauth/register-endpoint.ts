/**
 * RFC 7591 dynamic client registration, in front of oidc-provider's own endpoint: the body is
 * read here (size-capped), its redirect URIs checked against our rules, and an identical
 * re-registration of a public client returns the existing client instead of a new row
 * (Claude.ai registers again on every connect). Confidential clients always get a new client
 * and secret: handing out the secret of an existing client to whoever repeats its metadata
 * would let anyone authenticate as it, and rotating it would log the real one out.
 */
import type { IncomingMessage } from 'node:http';
import { isObject } from '../core/json.js';
import { isJsonMediaType } from '../core/media-type.js';
import { sendJson } from '../core/respond.js';
import type { SessionLogger } from '../session/manager.js';
import type { OAuthClientStore } from '../storage/types.js';
import { registrationFingerprint } from './client-identity.js';
import { allowAnyOrigin, corsHeaders, preflight } from './cors.js';
import { InvalidClientMetadata, InvalidRedirectUri, InvalidRequest } from './errors.js';
import type { Host, OAuthEndpoint } from './hosts.js';
import { checkRateLimit, type Limiter } from './rate-limit.js';
import { checkRedirectUris } from './redirect-uris.js';
import { readRequestBody } from './request-body.js';

/** Registrations are small; 16 KiB leaves room for a `jwks` with a few keys. */
export const MAX_REGISTRATION_BYTES = 16 * 1024;

export interface RegisterDeps {
  /** `runtime_flags.mcp_dynamic_client_registration`. */
  readonly enabled: boolean;
  readonly limiter: Limiter;
  readonly clientIp: (req: IncomingMessage) => string;
  readonly clients: Pick<OAuthClientStore, 'findByFingerprint'>;
  readonly logger: SessionLogger;
}

interface Registration {
  /** The request's bytes, for oidc-provider to read again. */
  readonly body: Buffer;
  readonly fingerprint: string;
  /** True for `token_endpoint_auth_method: none`: may be answered with an existing client. */
  readonly reusable: boolean;
}

/** `POST /.pomerium/mcp/register` (and `/register`): the checks, then oidc-provider. */
export function registerEndpoint(deps: RegisterDeps): OAuthEndpoint {
  return async (req, res, host, providerUrl) => {
    checkEnabled(deps.enabled);
    if (req.method === 'OPTIONS') return preflight(req, res, 'POST');
    checkPost(req);
    await checkRateLimit(deps.limiter, deps.clientIp(req));
    const registration = await readRegistration(req);
    const existing = registration.reusable
      ? await existingClient(host, deps, registration)
      : undefined;
    if (existing !== undefined) {
      deps.logger.info(
        { client_id: existing.client_id },
        'identical registration: existing client returned',
      );
      return sendJson(res, 201, existing, corsHeaders(req));
    }
    allowAnyOrigin(req, res);
    return host.oidc.serve(req, res, { url: providerUrl, body: registration.body });
  };
}

function checkEnabled(enabled: boolean): void {
  if (!enabled) {
    throw new InvalidRequest('dynamic client registration is disabled', { status: 404 });
  }
}

function checkPost(req: IncomingMessage): void {
  if (req.method !== 'POST') throw new InvalidRequest('use POST', { status: 405 });
}

/** Reads and checks a registration request (RFC 7591 §3.1; errors as §3.2.2). */
async function readRegistration(req: IncomingMessage): Promise<Registration> {
  if (!isJsonMediaType(req.headers['content-type'])) {
    throw new InvalidClientMetadata('the registration must be application/json');
  }
  const body = await readRequestBody(
    req,
    MAX_REGISTRATION_BYTES,
    (options) =>
      new InvalidClientMetadata(
        `the registration exceeds ${MAX_REGISTRATION_BYTES} bytes`,
        options,
      ),
  );
  const metadata = parseMetadata(body);
  const redirectProblem = checkRedirectUris(metadata.redirect_uris);
  if (redirectProblem !== undefined) throw new InvalidRedirectUri(redirectProblem);
  // RFC 7591 §2: the default method is client_secret_basic.
  const method = metadata.token_endpoint_auth_method ?? 'client_secret_basic';
  return { body, fingerprint: registrationFingerprint(metadata), reusable: method === 'none' };
}

function parseMetadata(body: Buffer): Record<string, unknown> {
  let metadata: unknown;
  try {
    metadata = JSON.parse(body.toString('utf8'));
  } catch {
    throw new InvalidClientMetadata('the registration is not valid JSON');
  }
  if (!isObject(metadata))
    throw new InvalidClientMetadata('the registration must be a JSON object');
  return metadata;
}

/** The metadata of a public client registered with the same request before, if it still exists. */
async function existingClient(
  host: Host,
  deps: RegisterDeps,
  registration: Registration,
): Promise<Record<string, unknown> | undefined> {
  const found = await deps.clients.findByFingerprint(registration.fingerprint);
  const client = found && (await host.oidc.provider.Client.find(found.clientId));
  return client?.tokenEndpointAuthMethod === 'none' ? client.metadata() : undefined;
}
