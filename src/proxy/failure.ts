/** What an attempt's failure before any answer means for the next attempt (`exchange.ts`). */
import { UpstreamTimeoutError } from './errors.js';

/**
 * - `connect`: no connection was made; the upstream is ejected for a while and another tried.
 * - `reset`: the connection broke before any answer; another upstream may be tried.
 * - `stale`: a reused idle connection the upstream had just closed; the same request may go
 *   again at once (the upstream never read it).
 * - `other`: anything else (an invalid answer, say): no other attempt.
 */
export type FailureKind = 'connect' | 'reset' | 'stale' | 'other';

/** Socket errors that mean "no response came from this upstream; another may answer". */
const CONNECT_ERRORS = new Set([
  'UND_ERR_CONNECT_TIMEOUT',
  'ECONNREFUSED',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ETIMEDOUT',
]);
const RESET_ERRORS = new Set(['ECONNRESET', 'EPIPE', 'ECONNABORTED', 'UND_ERR_SOCKET']);

export function failureKind(err: NodeJS.ErrnoException): FailureKind {
  if (err instanceof UpstreamTimeoutError) return 'connect';
  const code = err.code ?? '';
  if (CONNECT_ERRORS.has(code)) return 'connect';
  if (staleConnection(err)) return 'stale';
  return RESET_ERRORS.has(code) ? 'reset' : 'other';
}

/**
 * undici's "other side closed" on a connection that had carried answers before: the upstream
 * closed it as idle while this request was being sent, and never read it.
 */
function staleConnection(err: NodeJS.ErrnoException): boolean {
  const socket = (err as { socket?: { bytesRead?: number } }).socket;
  return err.code === 'UND_ERR_SOCKET' && (socket?.bytesRead ?? 0) > 0;
}
