/**
 * Reads an MCP POST body into the calls policy must judge, refusing whatever it cannot read with
 * certainty. Pomerium fails open here (REFERENCE §3: batched, oversized or non-JSON bodies leave
 * the method unknown and deny rules never fire); every such case is an error response here.
 */
import { isObject } from '../core/json.js';
import { parseStrictJsonBytes } from './strict-json.js';

export type JsonRpcId = string | number;

export interface McpCall {
  /** null: a notification (no `id` member). */
  readonly id: JsonRpcId | null;
  readonly method: string;
  /** `params.name` of a `tools/call`; null for every other method. */
  readonly tool: string | null;
}

export interface JsonRpcErrorObject {
  readonly code: number;
  readonly message: string;
}

/** The calls of a POST body, as inspection read them. */
export interface InspectedCalls {
  /** Requests and notifications, in body order. */
  readonly calls: readonly McpCall[];
  /** How many JSON-RPC responses (answers to server requests) the body holds. */
  readonly responses: number;
  readonly batch: boolean;
}

export type InspectResult =
  | ({ readonly ok: true } & InspectedCalls)
  | {
      readonly ok: false;
      readonly status: 400 | 415;
      readonly jsonRpcError: JsonRpcErrorObject;
      /** The request's id when the body was read far enough to know it (single message). */
      readonly id: JsonRpcId | null;
    };

export interface InspectInput {
  readonly contentType: string | undefined;
  readonly body: Buffer;
  readonly headers: { readonly mcpMethod?: string; readonly mcpName?: string };
}

// JSON-RPC 2.0 §5.1
export const PARSE_ERROR = -32700;
export const INVALID_REQUEST = -32600;
export const INVALID_PARAMS = -32602;
/** MCP 2026-07-28 HeaderMismatch: Mcp-Method / Mcp-Name disagree with the body. */
export const HEADER_MISMATCH = -32020;

/** Deeper nesting than any MCP message needs; refusing it protects parsers downstream. */
export const MAX_JSON_DEPTH = 512;

/** Methods whose `Mcp-Name` header mirrors a body field (MCP 2026-07-28, SEP-2243). */
const NAME_FIELD: Readonly<Record<string, 'name' | 'uri'>> = {
  'tools/call': 'name',
  'prompts/get': 'name',
  'resources/read': 'uri',
  'resources/subscribe': 'uri',
  'resources/unsubscribe': 'uri',
};

class Refusal {
  constructor(
    readonly status: 400 | 415,
    readonly code: number,
    readonly message: string,
  ) {}
}

/** Inspects one POST body. Body size is the caller's (see `readLimitedBody`). */
export function inspectMcpPost(input: InspectInput): InspectResult {
  try {
    if (!isJsonMediaType(input.contentType)) {
      throw new Refusal(415, INVALID_REQUEST, 'Content-Type must be application/json');
    }
    const parsed = parseStrictJsonBytes(input.body, { maxDepth: MAX_JSON_DEPTH });
    if (!parsed.ok) {
      throw parsed.kind === 'syntax'
        ? new Refusal(400, PARSE_ERROR, 'Parse error')
        : new Refusal(400, INVALID_REQUEST, `Invalid Request: ${parsed.message}`);
    }
    const batch = Array.isArray(parsed.value);
    const items = batch ? (parsed.value as unknown[]) : [parsed.value];
    // JSON-RPC 2.0 §6: an empty batch is an invalid request.
    if (items.length === 0) throw new Refusal(400, INVALID_REQUEST, 'Invalid Request: empty batch');
    const messages = items.map(readMessage);
    checkHeaders(messages, input.headers);
    const calls: McpCall[] = [];
    for (const m of messages) if (m.kind !== 'response') calls.push(m.call);
    return { ok: true, calls, responses: messages.length - calls.length, batch };
  } catch (err) {
    if (!(err instanceof Refusal)) throw err;
    return {
      ok: false,
      status: err.status,
      jsonRpcError: { code: err.code, message: err.message },
      id: singleId(input),
    };
  }
}

type Message =
  | {
      readonly kind: 'call';
      readonly call: McpCall;
      readonly params: Record<string, unknown> | null;
    }
  | { readonly kind: 'response' };

const has = (o: object, key: string) => Object.prototype.hasOwnProperty.call(o, key);

function readMessage(item: unknown): Message {
  const invalid = (why: string) => new Refusal(400, INVALID_REQUEST, `Invalid Request: ${why}`);
  if (!isObject(item)) throw invalid('a message must be an object');
  if (item.jsonrpc !== '2.0') throw invalid('jsonrpc must be "2.0"');
  if (!has(item, 'method')) return readResponse(item, invalid);
  const { method, params } = item;
  if (typeof method !== 'string' || method === '') throw invalid('method must be a string');
  if (has(item, 'result') || has(item, 'error')) throw invalid('a request has no result or error');
  let id: JsonRpcId | null = null;
  if (has(item, 'id')) {
    // MCP 2025-11-25 "Requests": a string or integer id, never null.
    if (!isRequestId(item.id)) throw invalid('id must be a string or an integer');
    id = item.id;
  }
  // JSON-RPC 2.0 §4.2: params, when present, is structured.
  if (has(item, 'params') && !isObject(params) && !Array.isArray(params)) {
    throw invalid('params must be an object or an array');
  }
  let tool: string | null = null;
  if (method === 'tools/call') {
    const name = isObject(params) ? params.name : undefined;
    if (typeof name !== 'string') {
      throw new Refusal(400, INVALID_PARAMS, 'Invalid params: tools/call needs a string name');
    }
    tool = name;
  }
  return { kind: 'call', call: { id, method, tool }, params: isObject(params) ? params : null };
}

function readResponse(item: Record<string, unknown>, invalid: (why: string) => Refusal): Message {
  // JSON-RPC 2.0 §5: an id (null allowed for errors) and exactly one of result and error.
  if (!has(item, 'id') || !(item.id === null || isRequestId(item.id))) {
    throw invalid('a message needs a method, or an id and a result or error');
  }
  if (has(item, 'result') === has(item, 'error')) {
    throw invalid('a response has exactly one of result and error');
  }
  return { kind: 'response' };
}

const isRequestId = (v: unknown): v is JsonRpcId =>
  typeof v === 'string' || (typeof v === 'number' && Number.isSafeInteger(v));

/**
 * MCP 2026-07-28 Streamable HTTP (SEP-2243): `Mcp-Method` and `Mcp-Name` mirror the body so
 * intermediaries can route without parsing it; a gateway that authorizes on the body while
 * something else routes on the headers must refuse any disagreement (400, HeaderMismatch).
 */
function checkHeaders(messages: readonly Message[], headers: InspectInput['headers']): void {
  const { mcpMethod, mcpName } = headers;
  if (mcpMethod === undefined && mcpName === undefined) return;
  const mismatch = (why: string) => new Refusal(400, HEADER_MISMATCH, `Header mismatch: ${why}`);
  for (const m of messages) {
    if (m.kind === 'response') throw mismatch('Mcp-Method or Mcp-Name sent with a response');
    const { method } = m.call;
    if (mcpMethod !== undefined && mcpMethod !== method) {
      throw mismatch(`Mcp-Method does not match the body method`);
    }
    const field = NAME_FIELD[method];
    const bodyName = field && m.params ? m.params[field] : undefined;
    if (mcpName === undefined) {
      // Mcp-Name is required with Mcp-Method on name-bearing methods.
      if (mcpMethod !== undefined && field) throw mismatch(`Mcp-Name is required for ${method}`);
    } else if (typeof bodyName !== 'string' || bodyName !== mcpName) {
      throw mismatch(`Mcp-Name does not match the body`);
    }
  }
}

/** `application/json`, optionally with `charset=utf-8` (RFC 8259 §8.1: JSON is UTF-8). */
export function isJsonMediaType(value: string | undefined): boolean {
  if (value === 'application/json') return true; // what nearly every client sends
  if (value === undefined) return false;
  const [type, ...params] = value.split(';').map((s) => s.trim().toLowerCase());
  if (type !== 'application/json') return false;
  return params.every((p) => {
    if (p === '') return true;
    const [k, v] = p.split('=', 2).map((s) => s.trim());
    return k !== 'charset' || v === 'utf-8' || v === '"utf-8"' || v === 'utf8';
  });
}

/** The id of a single-message body, for the error response; null when unknown. */
function singleId(input: InspectInput): JsonRpcId | null {
  const parsed = parseStrictJsonBytes(input.body, { maxDepth: MAX_JSON_DEPTH });
  if (!parsed.ok || !isObject(parsed.value)) return null;
  return isRequestId(parsed.value.id) ? parsed.value.id : null;
}
