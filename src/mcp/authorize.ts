/**
 * Policy over a whole MCP POST: every call in it must be allowed, or none is forwarded. A batch
 * is refused whole, so a denied call cannot ride along with allowed ones.
 */
import type { Decision } from '../policy/evaluate.js';
import { INVALID_PARAMS, type JsonRpcId, type McpCall } from './inspect.js';

/** `decide(null)` judges the request without an MCP call (a body of JSON-RPC responses). */
export type DecideCall = (call: McpCall | null) => Decision;

export interface Denial {
  /** The first denied call; null when the denial was for the responses in the body. */
  readonly call: McpCall | null;
  readonly decision: Decision;
}

export type McpAuthorization =
  | { readonly allow: true; readonly decisions: readonly Decision[] }
  | { readonly allow: false; readonly denial: Denial; readonly decisions: readonly Decision[] };

/**
 * Allows only when every call is allowed. JSON-RPC responses in the body (`responses` > 0), or a
 * body with no call at all, are judged once with `decide(null)`, so an empty list never allows
 * by default. Every call is decided (not only up to the first denial) so the log can show all.
 */
export function authorizeMcpRequest(
  calls: readonly McpCall[],
  decide: DecideCall,
  responses = 0,
): McpAuthorization {
  const judged: { call: McpCall | null; decision: Decision }[] = calls.map((call) => ({
    call,
    decision: decide(call),
  }));
  if (responses > 0 || calls.length === 0) judged.push({ call: null, decision: decide(null) });
  const decisions = judged.map((j) => j.decision);
  const denied = judged.find((j) => !j.decision.allow);
  return denied ? { allow: false, denial: denied, decisions } : { allow: true, decisions };
}

export interface DeniedResponse {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  /** JSON text: one JSON-RPC error, or an array of them for a batch. */
  readonly body: string;
}

/**
 * The answer to a refused request. Like Pomerium (authorize `deniedResponseForMCP`), a denied
 * request gets HTTP 200 with a JSON-RPC error, code -32602, carrying its id and naming the
 * gateway's request id so an operator can find the reason in the log; the reason itself is not
 * sent. In a batch every request gets an error (notifications get none, JSON-RPC 2.0 §6). A body
 * with no request to answer (notifications, responses) gets 403 with an id-less error, as MCP
 * Streamable HTTP answers a refused notification with an HTTP error status.
 */
export function deniedResponse(
  calls: readonly McpCall[],
  denial: Denial,
  requestId: string,
  batch = calls.length > 1,
): DeniedResponse {
  const headers = { 'content-type': 'application/json', 'cache-control': 'no-store' };
  const log = `see the authorization log for request ${requestId}`;
  const what = (call: McpCall | null) =>
    call?.method === 'tools/call' ? 'tool call denied by policy' : 'request denied by policy';
  const error = (id: JsonRpcId | null, message: string) => ({
    jsonrpc: '2.0',
    id,
    error: { code: INVALID_PARAMS, message, data: { request_id: requestId } },
  });
  const requests = calls.filter((c) => c.id !== null);
  if (requests.length === 0) {
    return {
      status: 403,
      headers,
      body: JSON.stringify(error(null, `${what(denial.call)}; ${log}`)),
    };
  }
  const errors = requests.map((c) =>
    c === denial.call
      ? error(c.id, `${what(c)} (${log})`)
      : error(c.id, `batch refused: another message in it was denied by policy (${log})`),
  );
  const body = batch ? JSON.stringify(errors) : JSON.stringify(errors[0]);
  return { status: 200, headers, body };
}
