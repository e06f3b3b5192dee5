/**
 * How long a client may take to send a request body (`timeout_read`). Armed once per request at
 * the listener, so every body reader (MCP POST, OAuth `/register` and `/token`, the sign-in form,
 * oidc-provider's own parsers) is covered without each one keeping a timer: a body that is not
 * complete in time is answered 408 (RFC 9110 §15.5.9) when nothing was sent yet, and its
 * connection is closed either way. Without this, `Content-Length: 1000` followed by 15 bytes and
 * silence held a descriptor and a buffer forever.
 *
 * A body the proxy streams on to an upstream has no whole-body deadline (an upload may be slow
 * but steady); it switches to an idle limit of the same length between chunks instead.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { declaresBody } from './body.js';

/** Writes the 408 answer (the edge's own error writer). */
export type TimeoutAnswer = (res: ServerResponse, afterMs: number) => void;

interface Deadline {
  readonly ms: number;
  readonly res: ServerResponse;
  readonly answer: TimeoutAnswer;
  timer: NodeJS.Timeout;
  expired: boolean;
}

/**
 * The request's deadline, on the request itself: a WeakMap entry per request cost more than
 * the rest of arming it (ephemeron bookkeeping in every GC).
 */
const DEADLINE = Symbol('portcullis.bodyDeadline');
type Armed = IncomingMessage & { [DEADLINE]?: Deadline };
const deadlineOf = (req: IncomingMessage): Deadline | undefined => (req as Armed)[DEADLINE];

/** Starts the whole-body deadline of `req` (a no-op for `ms` 0 or a request without a body). */
export function armBodyDeadline(
  req: IncomingMessage,
  res: ServerResponse,
  ms: number,
  answer: TimeoutAnswer,
): void {
  if (ms <= 0 || req.complete || !declaresBody(req.headers)) return;
  const deadline: Deadline = {
    ms,
    res,
    answer,
    expired: false,
    timer: setTimeout(() => expire(req, deadline), ms).unref(),
  };
  (req as Armed)[DEADLINE] = deadline;
  const stop = () => clearTimeout(deadline.timer);
  req.once('end', stop);
  req.once('close', stop);
}

/**
 * For a body streamed to an upstream: from now on the limit is on silence between chunks, not on
 * the whole body. `onStall` runs first when it expires (the caller drops the upstream request).
 */
export function limitBodyIdle(req: IncomingMessage, onStall: () => void): void {
  const deadline = deadlineOf(req);
  if (!deadline || deadline.expired || req.complete) return;
  clearTimeout(deadline.timer);
  deadline.timer = setTimeout(() => {
    if (req.complete) return;
    onStall();
    expire(req, deadline);
  }, deadline.ms).unref();
  const refresh = () => deadline.timer.refresh();
  req.on('data', refresh);
  req.once('end', () => req.off('data', refresh));
}

/** True once the request's body deadline expired: its handler's later failure is expected. */
export function bodyTimedOut(req: IncomingMessage): boolean {
  return deadlineOf(req)?.expired === true;
}

function expire(req: IncomingMessage, deadline: Deadline): void {
  if (req.complete || deadline.expired) return;
  deadline.expired = true;
  const { res } = deadline;
  const close = () => req.socket.destroy();
  if (!res.headersSent) deadline.answer(res, deadline.ms);
  // Whatever was sent, the rest of the body is never coming: free the connection once the
  // answer is out (or now, if a response was under way).
  if (res.writableFinished) close();
  else if (res.writableEnded) res.once('finish', close);
  else close();
}
