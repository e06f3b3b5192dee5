/**
 * Removes from `tools/list` results the tools the user may not call, so clients are not shown
 * tools that policy would refuse (Pomerium passes the list through unfiltered).
 *
 * Fail closed: an answer that cannot be read with certainty (not strict JSON, too large, a
 * message with both `result` and `error`, a result for an id no call used) is replaced by a
 * JSON-RPC error for each tools/list id; so is a tools/list result without a `tools` list; a
 * tool entry without a string name is dropped (the event-stream form: filter-tools-sse.ts). A rewritten message is re-serialized from what
 * was judged, so the client cannot read a different list than the gateway did (duplicate keys
 * are refused outright).
 */
import { isObject } from '../core/json.js';
import { parseStrictJsonBytes } from './strict-json.js';
import type { JsonRpcId } from './inspect.js';

export type AllowTool = (name: string) => boolean;

/** What the filter knows of the request a response body answers. */
export interface ToolsListRequest {
  /** Ids of its tools/list calls: their results are filtered. */
  readonly ids: ReadonlySet<JsonRpcId>;
  /**
   * Ids of its other calls, whose results pass. A result for an id in neither set cannot be
   * judged: clients match ids loosely (the TypeScript SDK looks answers up by `Number(id)`, so
   * `"7"` answers request 7), and the gateway matches by JSON value and type.
   */
  readonly otherIds?: ReadonlySet<JsonRpcId>;
  readonly allowTool: AllowTool;
}

/** Larger tools/list answers are refused: real ones are a few KiB to a few hundred KiB. */
export const MAX_TOOLS_LIST_BYTES = 8 * 1024 * 1024;

// JSON-RPC 2.0 §5.1 Internal error
const INTERNAL_ERROR = -32603;
const UNFILTERABLE = 'tools/list response could not be checked by the gateway';

export type Rewrite =
  | {
      readonly ok: true;
      readonly value: unknown;
      readonly changed: boolean;
      readonly removed: readonly string[];
    }
  /** Something in the message cannot be judged: the whole body is refused. */
  | { readonly ok: false; readonly reason: string };

const has = (o: object, key: string) => Object.prototype.hasOwnProperty.call(o, key);

const unchanged = (value: unknown): Rewrite => ({ ok: true, value, changed: false, removed: [] });

const errorMessage = (id: JsonRpcId) => ({
  jsonrpc: '2.0',
  id,
  error: { code: INTERNAL_ERROR, message: UNFILTERABLE },
});

/** The JSON-RPC errors (one message, or a batch) sent for `ids` in place of what was refused. */
export function errorsValue(ids: ReadonlySet<JsonRpcId>): unknown {
  const errors = [...ids].map(errorMessage);
  return errors.length === 1 ? errors[0] : errors;
}

/** Filters the tools/list results (responses whose id is in `ids`) of one message or batch. */
export function rewrite(value: unknown, request: ToolsListRequest): Rewrite {
  if (Array.isArray(value)) {
    const parts = value.map((v) => rewrite(v, request));
    const refused = parts.find((p) => !p.ok);
    if (refused) return refused;
    const done = parts as Extract<Rewrite, { ok: true }>[];
    return {
      ok: true,
      value: done.map((p) => p.value),
      changed: done.some((p) => p.changed),
      removed: done.flatMap((p) => p.removed),
    };
  }
  if (!isObject(value)) return unchanged(value);
  const misshapen = invalidShape(value);
  if (misshapen) return { ok: false, reason: misshapen };
  if (has(value, 'method')) return unchanged(value);
  const { id } = value;
  const isId = typeof id === 'string' || typeof id === 'number';
  if (isId && request.ids.has(id) && !has(value, 'error')) {
    return filterResult(value, id, request.allowTool);
  }
  if (!has(value, 'result') || (isId && request.otherIds?.has(id))) return unchanged(value);
  return { ok: false, reason: `a result for id ${JSON.stringify(id)}, which no call used` };
}

/**
 * JSON-RPC 2.0 §5: a response carries exactly one of `result` and `error`; a request or
 * notification neither. Clients differ on which member of a mixed message they read.
 */
function invalidShape(message: Record<string, unknown>): string | null {
  const result = has(message, 'result');
  const error = has(message, 'error');
  if (has(message, 'method') && (result || error)) return 'a request carrying result or error';
  if (result && error) return 'a response carrying both result and error';
  return null;
}

function filterResult(
  message: Record<string, unknown>,
  id: JsonRpcId,
  allowTool: AllowTool,
): Rewrite {
  const { result } = message;
  if (!isObject(result) || !Array.isArray(result.tools)) {
    return { ok: true, value: errorMessage(id), changed: true, removed: [] };
  }
  const removed: string[] = [];
  const tools = result.tools.filter((t: unknown) => {
    const name = isObject(t) ? t.name : undefined;
    const keep = typeof name === 'string' && allowTool(name);
    if (!keep) removed.push(typeof name === 'string' ? name : '(unnamed)');
    return keep;
  });
  return { ok: true, value: { ...message, result: { ...result, tools } }, changed: true, removed };
}

export function stringify(value: unknown): string | null {
  try {
    return JSON.stringify(value);
  } catch {
    return null; // too deep for the stack: refuse rather than pass through
  }
}

export type FilterJsonResult =
  | { readonly ok: true; readonly body: Buffer; readonly removed: readonly string[] }
  /** Send `body` (JSON-RPC errors for the tools/list ids) with `status` instead. */
  | { readonly ok: false; readonly status: 502; readonly body: Buffer; readonly reason: string };

/** The refusal of an answer to tools/list calls `ids` that the gateway cannot judge. */
export function unfilterable(ids: ReadonlySet<JsonRpcId>, reason: string): FilterJsonResult {
  const body = Buffer.from(JSON.stringify(errorsValue(ids)));
  return { ok: false, status: 502, body, reason };
}

/** Filters a buffered `application/json` response to a request holding tools/list calls. */
export function filterToolsListJson(body: Buffer, request: ToolsListRequest): FilterJsonResult {
  const { ids } = request;
  if (ids.size === 0) return { ok: true, body, removed: [] };
  if (body.length > MAX_TOOLS_LIST_BYTES) {
    return unfilterable(ids, `response over ${MAX_TOOLS_LIST_BYTES} bytes`);
  }
  const parsed = parseStrictJsonBytes(body);
  if (!parsed.ok) return unfilterable(ids, `response is not strict JSON: ${parsed.message}`);
  const out = rewrite(parsed.value, request);
  if (!out.ok) return unfilterable(ids, out.reason);
  if (!out.changed) return { ok: true, body, removed: [] };
  const text = stringify(out.value);
  if (text === null) return unfilterable(ids, 'response too deeply nested to re-serialize');
  return { ok: true, body: Buffer.from(text), removed: out.removed };
}
