/**
 * Step 2 of an MCP POST: read the whole body and inspect it into the calls policy judges. The
 * body is read before any decision: a body the gateway cannot fully read is denied, never
 * passed with the method unknown (REFERENCE §3).
 */
import type { IncomingMessage } from 'node:http';
import { readBody, type BodyResult } from '../../core/body.js';
import {
  INVALID_REQUEST,
  inspectMcpPost,
  type InspectedCalls,
  type InspectInput,
} from '../inspect.js';
import type { Answer } from './answer.js';

/** Largest MCP POST body when a route sets no `max_request_bytes`. */
export const DEFAULT_MAX_REQUEST_BYTES = 1024 * 1024;

export type BodyOutcome =
  | { readonly ok: true; readonly body: Buffer; readonly inspected: InspectedCalls }
  | { readonly ok: false; readonly answer: Answer };

/** What of the request's head the inspection compares with the body. */
export type BodyHead = Omit<InspectInput, 'body'>;

/** The outcome of reading `read` as an MCP POST with this head. Pure. */
export function inspectBody(read: BodyResult, head: BodyHead): BodyOutcome {
  if (!read.ok && read.reason === 'aborted') return { ok: false, answer: { kind: 'hang-up' } };
  if (!read.ok) {
    const message = `request body exceeds ${read.limit} bytes`;
    // The rest of the body stays unread: the connection cannot be reused.
    const answer: Answer = {
      kind: 'json-rpc-error',
      status: 413,
      id: null,
      code: INVALID_REQUEST,
      message,
      headers: { connection: 'close' },
    };
    return { ok: false, answer };
  }
  const inspected = inspectMcpPost({
    contentType: head.contentType,
    headers: head.headers,
    body: read.body,
  });
  if (inspected.ok) return { ok: true, body: read.body, inspected };
  const { status, id, jsonRpcError } = inspected;
  return { ok: false, answer: { kind: 'json-rpc-error', status, id, ...jsonRpcError } };
}

/** Reads and inspects the body of an MCP POST, at most `maxBytes`. */
export async function readCalls(req: IncomingMessage, maxBytes: number): Promise<BodyOutcome> {
  const read = await readBody(req, maxBytes);
  return inspectBody(read, {
    contentType: req.headers['content-type'],
    headers: { mcpMethod: stringHeader(req, 'mcp-method'), mcpName: stringHeader(req, 'mcp-name') },
  });
}

function stringHeader(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return typeof v === 'string' ? v : undefined;
}
