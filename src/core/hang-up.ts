import type { IncomingMessage } from 'node:http';

/**
 * True when the request's body stopped short because the client closed the connection
 * (node:http's "aborted", or a parse error at the early end of the stream). Not a server error:
 * the socket is gone, so there is no one to answer.
 */
export function clientHungUp(req: IncomingMessage): boolean {
  return !req.complete && (req.destroyed || req.socket.destroyed);
}

/**
 * Thrown by a reader whose client closed the connection before the request's end: not a
 * failure to answer (there is no one to answer), so the edge drops the connection and logs it
 * at debug level only.
 */
export class ClientGone extends Error {
  readonly code = 'ERR_CLIENT_GONE';
  constructor() {
    super('the client closed the connection before its request was read');
    this.name = 'ClientGone';
  }
}
