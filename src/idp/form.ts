import type { IncomingMessage } from 'node:http';

export class FormError extends Error {
  constructor(readonly status: 400 | 413 | 415) {
    super(`form rejected (${status})`);
    this.name = 'FormError';
  }
}

/** Reads a small `application/x-www-form-urlencoded` body (HTML §4.10.21.7). */
export async function readForm(req: IncomingMessage, limit = 8192): Promise<URLSearchParams> {
  const type = (req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase();
  if (type !== 'application/x-www-form-urlencoded') throw new FormError(415);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) throw new FormError(413);
    chunks.push(chunk);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}
