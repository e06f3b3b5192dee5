/**
 * RFC 7591 dynamic client registration, in front of oidc-provider's own endpoint: the body is
 * read here (size-capped), its redirect URIs checked against our rules, and an identical
 * re-registration of a public client returns the existing client instead of a new row
 * (Claude.ai registers again on every connect). Confidential clients always get a new client
 * and secret: handing out the secret of an existing client to whoever repeats its metadata
 * would let anyone authenticate as it, and rotating it would log the real one out.
 */
import { IncomingMessage } from 'node:http';
import { checkRedirectUris } from './redirect-uris.js';
import { registrationFingerprint } from './client-identity.js';

/** Registrations are small; 16 KiB leaves room for a `jwks` with a few keys. */
export const MAX_REGISTRATION_BYTES = 16 * 1024;

export type RegistrationStep =
  | {
      readonly kind: 'refuse';
      readonly status: number;
      readonly error: string;
      readonly description: string;
    }
  | {
      readonly kind: 'register';
      readonly body: Buffer;
      readonly metadata: Record<string, unknown>;
      readonly fingerprint: string;
      /** True for `token_endpoint_auth_method: none`: may be answered with an existing client. */
      readonly reusable: boolean;
    };

const refuse = (status: number, error: string, description: string): RegistrationStep => ({
  kind: 'refuse',
  status,
  error,
  description,
});

/** Reads and checks a registration request (RFC 7591 §3.1, §3.2.2 errors). */
export async function readRegistration(req: IncomingMessage): Promise<RegistrationStep> {
  const type = (req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase();
  if (type !== 'application/json') {
    return refuse(400, 'invalid_client_metadata', 'the registration must be application/json');
  }
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > MAX_REGISTRATION_BYTES) {
    return refuse(
      413,
      'invalid_client_metadata',
      `the registration exceeds ${MAX_REGISTRATION_BYTES} bytes`,
    );
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_REGISTRATION_BYTES) {
      return refuse(
        413,
        'invalid_client_metadata',
        `the registration exceeds ${MAX_REGISTRATION_BYTES} bytes`,
      );
    }
    chunks.push(chunk);
  }
  const body = Buffer.concat(chunks);
  let metadata: unknown;
  try {
    metadata = JSON.parse(body.toString('utf8'));
  } catch {
    return refuse(400, 'invalid_client_metadata', 'the registration is not valid JSON');
  }
  if (metadata === null || typeof metadata !== 'object' || Array.isArray(metadata)) {
    return refuse(400, 'invalid_client_metadata', 'the registration must be a JSON object');
  }
  const fields = metadata as Record<string, unknown>;
  const redirectProblem = checkRedirectUris(fields.redirect_uris);
  if (redirectProblem !== undefined) return refuse(400, 'invalid_redirect_uri', redirectProblem);
  // RFC 7591 §2: the default method is client_secret_basic.
  const method = fields.token_endpoint_auth_method ?? 'client_secret_basic';
  return {
    kind: 'register',
    body,
    metadata: fields,
    fingerprint: registrationFingerprint(fields),
    reusable: method === 'none',
  };
}

/** The request's body, or undefined when it exceeds `max` bytes. */
export async function readBody(req: IncomingMessage, max: number): Promise<Buffer | undefined> {
  if (Number(req.headers['content-length'] ?? 0) > max) return undefined;
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > max) return undefined;
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

/**
 * A fresh request carrying `body` for oidc-provider to read, since the original stream has
 * been consumed (its parser reads the stream; a pre-parsed body makes it print a warning).
 */
export function replayRequest(req: IncomingMessage, body: Buffer): IncomingMessage {
  const copy = new IncomingMessage(req.socket);
  copy.method = req.method;
  copy.url = req.url;
  copy.httpVersion = req.httpVersion;
  copy.httpVersionMajor = req.httpVersionMajor;
  copy.httpVersionMinor = req.httpVersionMinor;
  const headers = { ...req.headers, 'content-length': String(body.length) };
  delete headers['transfer-encoding'];
  copy.headers = headers;
  // An incomplete message destroys its socket when it is destroyed (autoDestroy after end).
  copy.complete = true;
  copy.push(body);
  copy.push(null);
  return copy;
}
