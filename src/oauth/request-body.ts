import type { IncomingMessage } from 'node:http';
import { readBody } from '../core/body.js';
import { ClientGone } from '../core/hang-up.js';
import type { OAuthError, OAuthErrorOptions } from './errors.js';

/** A body over its limit is answered 413 and its connection closed (the rest is never read). */
const TOO_LARGE: OAuthErrorOptions = { status: 413, headers: { connection: 'close' } };

/**
 * The body of a request to one of the authorization server's endpoints, at most `limit` bytes.
 * Throws the endpoint's own error for a larger one (`tooLarge`), `ClientGone` when the client
 * hung up before its end.
 */
export async function readRequestBody(
  req: IncomingMessage,
  limit: number,
  tooLarge: (options: OAuthErrorOptions) => OAuthError,
): Promise<Buffer> {
  const read = await readBody(req, limit);
  if (read.ok) return read.body;
  if (read.reason === 'too-large') throw tooLarge(TOO_LARGE);
  throw new ClientGone();
}
