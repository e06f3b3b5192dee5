import type { IncomingMessage } from 'node:http';

/**
 * True when the request's body stopped short because the client closed the connection
 * (node:http's "aborted", or a parse error at the early end of the stream). Not a server error:
 * the socket is gone, so there is no one to answer.
 */
export function clientHungUp(req: IncomingMessage): boolean {
  return !req.complete && (req.destroyed || req.socket.destroyed);
}
