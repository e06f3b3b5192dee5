/**
 * What the interaction pages of both providers (the built-in provider's sign-in, the MCP
 * authorization server's consent) share at the edge: the methods they take, and the one reader
 * of the forms they post, `application/x-www-form-urlencoded` (HTML §4.10.21.7), small, read
 * through the codebase's body reader.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { readBody } from '../core/body.js';
import { ClientGone } from '../core/hang-up.js';
import { isFormMediaType } from '../core/media-type.js';

/** Forms are a few fields; 8 KiB is generous. */
export const MAX_FORM_BYTES = 8192;

/** A form refused before its fields were read: the status to answer and a stable code. */
export class FormError extends Error {
  readonly code: 'ERR_FORM_MEDIA_TYPE' | 'ERR_FORM_TOO_LARGE';
  /** What the answer must carry: a body left unread ends its connection. */
  readonly headers: Readonly<Record<string, string>>;
  constructor(readonly status: 413 | 415) {
    super(`form rejected (${status})`);
    this.name = 'FormError';
    this.code = status === 415 ? 'ERR_FORM_MEDIA_TYPE' : 'ERR_FORM_TOO_LARGE';
    this.headers = status === 413 ? { connection: 'close' } : {};
  }
}

/**
 * The form's fields, or undefined once a refused form is answered: another media type (415)
 * or more than `limit` bytes (413) goes to `refuse`. Throws `ClientGone` when the client hung
 * up before the form's end.
 */
export async function readForm(
  req: IncomingMessage,
  refuse: (error: FormError) => void,
  limit = MAX_FORM_BYTES,
): Promise<URLSearchParams | undefined> {
  if (!isFormMediaType(req.headers['content-type'])) {
    refuse(new FormError(415));
    return undefined;
  }
  const read = await readBody(req, limit);
  if (read.ok) return new URLSearchParams(read.body.toString('utf8'));
  if (read.reason === 'aborted') throw new ClientGone();
  refuse(new FormError(413));
  return undefined;
}

/** An interaction page takes GET (the page) and POST (its form); anything else is 405. */
export function interactionMethod(req: IncomingMessage, res: ServerResponse): boolean {
  if (req.method === 'GET' || req.method === 'POST') return true;
  res.writeHead(405, { allow: 'GET, POST' }).end();
  return false;
}
