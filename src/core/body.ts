import type { IncomingHttpHeaders } from 'node:http';
import type { Readable } from 'node:stream';

/** RFC 9112 §6.3: a request has content when it is chunked or declares a non-zero length. */
export function declaresBody(headers: IncomingHttpHeaders): boolean {
  if (headers['transfer-encoding'] !== undefined) return true;
  const length = headers['content-length'];
  return length !== undefined && Number(length) !== 0;
}

/** What reading a request body came to. Reading never throws: every outcome is a value. */
export type BodyResult =
  | { readonly ok: true; readonly body: Buffer }
  /** More than `limit` bytes (declared or sent); the rest is left unread, so close the connection. */
  | { readonly ok: false; readonly reason: 'too-large'; readonly limit: number }
  /** The stream failed or closed before its end: the client is gone, nothing can be answered. */
  | { readonly ok: false; readonly reason: 'aborted' };

/**
 * The whole body of a request, at most `limit` bytes: refused at once by a larger
 * Content-Length, and, when no length is declared (chunked), as soon as the stream passes the
 * limit. The one body reader of the codebase: the gateway's endpoints and the servers host
 * read through it.
 */
export function readBody(
  req: Readable & { readonly headers?: IncomingHttpHeaders },
  limit: number,
): Promise<BodyResult> {
  const declared = req.headers?.['content-length'];
  if (declared !== undefined && Number(declared) > limit) {
    return Promise.resolve({ ok: false, reason: 'too-large', limit });
  }
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const finish = (result: BodyResult) => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onAbort);
      req.off('close', onAbort);
      resolve(result);
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        req.pause();
        finish({ ok: false, reason: 'too-large', limit });
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => finish({ ok: true, body: Buffer.concat(chunks, size) });
    const onAbort = () => finish({ ok: false, reason: 'aborted' });
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onAbort);
    req.on('close', onAbort);
  });
}
