/**
 * What a pipeline step answers instead of going on, as plain data: the steps decide, and only
 * `sendAnswer` (the edge) writes to the response.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { sendJson, sendJsonRpcError, type Headers } from '../../core/respond.js';
import type { JsonRpcId } from '../inspect.js';

export type Answer =
  /** A JSON body (OAuth-style errors, `forbidden`). */
  | {
      readonly kind: 'json';
      readonly status: number;
      readonly body: unknown;
      readonly headers?: Headers;
      readonly statusMessage?: string;
    }
  /** One JSON-RPC error as the whole response. */
  | {
      readonly kind: 'json-rpc-error';
      readonly status: number;
      readonly id: JsonRpcId | null;
      readonly code: number;
      readonly message: string;
      readonly headers?: Headers;
    }
  /** Text already serialized (the JSON-RPC errors of a denied batch). */
  | {
      readonly kind: 'text';
      readonly status: number;
      readonly body: string;
      readonly headers: Headers;
    }
  /** A status and headers, no content (204: RFC 9110 §15.3.5, no Content-Length either). */
  | { readonly kind: 'empty'; readonly status: number; readonly headers: Headers }
  /** A browser is sent to sign in and back to `returnTo`. */
  | { readonly kind: 'sign-in'; readonly returnTo: string }
  /** The client is gone (its body stopped short): nobody to answer, the socket is closed. */
  | { readonly kind: 'hang-up' };

export type { StartSignIn } from '../../session/manager.js';
import type { StartSignIn } from '../../session/manager.js';

/** Writes `answer` as the whole response. */
export async function sendAnswer(
  req: IncomingMessage,
  res: ServerResponse,
  answer: Answer,
  startSignIn: StartSignIn,
): Promise<void> {
  switch (answer.kind) {
    case 'json':
      return sendJson(res, answer.status, answer.body, answer.headers, answer.statusMessage);
    case 'json-rpc-error':
      return sendJsonRpcError(res, answer.status, answer, answer.headers);
    case 'text':
      res.writeHead(answer.status, {
        ...answer.headers,
        'content-length': Buffer.byteLength(answer.body),
      });
      res.end(answer.body);
      return;
    case 'empty':
      res.writeHead(answer.status, answer.headers).end();
      return;
    case 'sign-in':
      return startSignIn(req, res, answer.returnTo);
    case 'hang-up':
      res.destroy();
      return;
  }
}
