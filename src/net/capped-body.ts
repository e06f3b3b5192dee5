/** Reading the answer of an outgoing fetch whose size the other side chooses. */

/** The answer was larger than the reader allows; it was cancelled while it streamed in. */
export class ResponseTooLargeError extends Error {
  readonly code = 'ERR_RESPONSE_TOO_LARGE';
  constructor(readonly limit: number) {
    super(`response larger than ${limit} bytes`);
    this.name = 'ResponseTooLargeError';
  }
}

/** The whole body of `res`, at most `limit` bytes: anything larger is cancelled mid-stream. */
export async function readCapped(res: Response, limit: number): Promise<Buffer> {
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of res.body ?? []) {
    size += chunk.byteLength;
    if (size > limit) {
      await res.body?.cancel();
      throw new ResponseTooLargeError(limit);
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}
