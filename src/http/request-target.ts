import type { IncomingMessage } from 'node:http';
import { randomUUID } from 'node:crypto';

/**
 * The path of a request target, or undefined when it could smuggle past prefix matching:
 * dot segments, encoded slashes or backslashes, NUL. Absolute-form targets are reduced to
 * their path.
 */
export function requestPath(target: string | undefined): string | undefined {
  if (target === undefined) return undefined;
  let raw = target;
  if (!raw.startsWith('/')) {
    try {
      raw = new URL(raw).pathname;
    } catch {
      return undefined;
    }
  }
  const path = raw.split('?')[0]!;
  if (/%2f|%5c|%00|\\/i.test(path)) return undefined;
  let decoded: string;
  try {
    decoded = decodeURIComponent(path);
  } catch {
    return undefined;
  }
  if (decoded.split('/').some((s) => s === '.' || s === '..')) return undefined;
  return path;
}

/** The client's `X-Request-Id` when it is a plausible id, else a fresh one. */
export function requestIdOf(req: IncomingMessage): string {
  const given = req.headers['x-request-id'];
  return typeof given === 'string' && /^[\w.:-]{1,128}$/.test(given) ? given : randomUUID();
}
