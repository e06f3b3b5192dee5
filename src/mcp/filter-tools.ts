/**
 * Removes from `tools/list` results the tools the user may not call, so clients are not shown
 * tools that policy would refuse (Pomerium passes the list through unfiltered).
 *
 * Fail closed: an answer that cannot be read with certainty (not strict JSON, too large, a
 * message with both `result` and `error`, a result for an id no call used) is replaced by a
 * JSON-RPC error for each tools/list id; so is a tools/list result without a `tools` list; a
 * tool entry without a string name is dropped. A rewritten message is re-serialized from what
 * was judged, so the client cannot read a different list than the gateway did (duplicate keys
 * are refused outright).
 */
import { Transform, type TransformCallback } from 'node:stream';
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

type Rewrite =
  | {
      readonly ok: true;
      readonly value: unknown;
      readonly changed: boolean;
      readonly removed: readonly string[];
    }
  /** Something in the message cannot be judged: the whole body is refused. */
  | { readonly ok: false; readonly reason: string };

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

const has = (o: object, key: string) => Object.prototype.hasOwnProperty.call(o, key);

const unchanged = (value: unknown): Rewrite => ({ ok: true, value, changed: false, removed: [] });

const errorMessage = (id: JsonRpcId) => ({
  jsonrpc: '2.0',
  id,
  error: { code: INTERNAL_ERROR, message: UNFILTERABLE },
});

/** The JSON-RPC errors (one message, or a batch) sent for `ids` in place of what was refused. */
function errorsValue(ids: ReadonlySet<JsonRpcId>): unknown {
  const errors = [...ids].map(errorMessage);
  return errors.length === 1 ? errors[0] : errors;
}

/** Filters the tools/list results (responses whose id is in `ids`) of one message or batch. */
function rewrite(value: unknown, request: ToolsListRequest): Rewrite {
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

function stringify(value: unknown): string | null {
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

const LF = 0x0a;
const CR = 0x0d;
const LF_BUF = Buffer.from([LF]);

interface HeldLine {
  raw: Buffer;
  readonly contentLength: number;
  readonly data: boolean;
}

export interface SseFilterOptions extends ToolsListRequest {
  /** Largest event held while its data is read. */
  readonly maxEventBytes?: number;
  /** Told about each event dropped or refused (for the log; removed tools are no issue). */
  readonly onIssue?: (message: string) => void;
}

/**
 * Filters a `text/event-stream` body (WHATWG HTML §9.2 "Server-sent events" framing: lines end
 * in CRLF, LF or CR; an empty line ends an event; `data` lines join with LF; `:` starts a
 * comment). Bytes pass through untouched except the `data` of an event that answers one of the
 * tools/list ids. Lines before an event's first `data` line go out at once; from the first
 * `data` line the event is held until its empty line, the only buffering. Event data that is not
 * strict JSON is dropped (the event's empty line still goes out); an event larger than
 * `maxEventBytes` ends the stream with an error event for each tools/list id.
 */
export class ToolsListSseFilter extends Transform {
  private readonly request: ToolsListRequest;
  private readonly maxEventBytes: number;
  private readonly onIssue: (message: string) => void;
  private partial: Buffer[] = [];
  private partialLength = 0;
  /** The last line ended in CR at a chunk's end; an LF opening the next chunk belongs to it. */
  private skipLf = false;
  private lastLineHeld = false;
  private held: HeldLine[] = [];
  private heldBytes = 0;
  private dataParts: Buffer[] = [];
  private discarding = false;
  private out: Buffer[] = [];

  constructor(options: SseFilterOptions) {
    super();
    this.request = options;
    this.maxEventBytes = options.maxEventBytes ?? MAX_TOOLS_LIST_BYTES;
    this.onIssue = options.onIssue ?? (() => {});
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    if (this.discarding) return done();
    if (this.request.ids.size === 0) return done(null, chunk);
    this.scan(chunk);
    this.flushOut();
    if (this.discarding) this.push(null);
    done();
  }

  override _flush(done: TransformCallback): void {
    // An event not ended by an empty line is discarded by clients; never send one unfiltered.
    if (!this.discarding && this.held.length === 0 && this.partialLength > 0) {
      const line = Buffer.concat(this.partial);
      if (!isDataLine(line)) this.out.push(line);
    }
    this.flushOut();
    done();
  }

  private scan(chunk: Buffer): void {
    let start = 0;
    if (this.skipLf && chunk.length > 0) {
      this.skipLf = false;
      if (chunk[0] === LF) {
        this.appendToLastLine(LF_BUF);
        start = 1;
      }
    }
    let nextCr = chunk.indexOf(CR, start);
    let nextLf = chunk.indexOf(LF, start);
    while (start < chunk.length && (nextCr !== -1 || nextLf !== -1)) {
      const end = nextCr === -1 ? nextLf : nextLf === -1 ? nextCr : Math.min(nextCr, nextLf);
      let termLength = 1;
      if (chunk[end] === CR) {
        if (end + 1 < chunk.length && chunk[end + 1] === LF) termLength = 2;
        else if (end + 1 === chunk.length) this.skipLf = true;
      }
      const piece = chunk.subarray(start, end);
      const content = this.partialLength === 0 ? piece : Buffer.concat([...this.partial, piece]);
      const raw = Buffer.concat([content, chunk.subarray(end, end + termLength)]);
      this.partial = [];
      this.partialLength = 0;
      this.line(content, raw);
      if (this.discarding) return;
      start = end + termLength;
      if (nextCr !== -1 && nextCr < start) nextCr = chunk.indexOf(CR, start);
      if (nextLf !== -1 && nextLf < start) nextLf = chunk.indexOf(LF, start);
    }
    if (start < chunk.length) {
      const rest = chunk.subarray(start);
      this.partial.push(rest);
      this.partialLength += rest.length;
      if (this.heldBytes + this.partialLength > this.maxEventBytes) this.overflow();
    }
  }

  private line(content: Buffer, raw: Buffer): void {
    if (content.length === 0) return this.dispatch(raw);
    const data = isDataLine(content);
    if (this.held.length === 0 && !data) {
      this.out.push(raw);
      this.lastLineHeld = false;
      return;
    }
    this.held.push({ raw, contentLength: content.length, data });
    this.heldBytes += raw.length;
    this.lastLineHeld = true;
    if (data) this.dataParts.push(dataValue(content));
    if (this.heldBytes > this.maxEventBytes) this.overflow();
  }

  private appendToLastLine(bytes: Buffer): void {
    const last = this.held[this.held.length - 1];
    if (this.lastLineHeld && last) {
      last.raw = Buffer.concat([last.raw, bytes]);
      this.heldBytes += bytes.length;
    } else {
      this.out.push(bytes);
    }
  }

  private dispatch(blank: Buffer): void {
    if (this.held.length > 0) this.out.push(...this.judgeEvent());
    this.out.push(blank);
    this.lastLineHeld = false;
    this.held = [];
    this.heldBytes = 0;
    this.dataParts = [];
  }

  /** The held lines of one event, as they should go out. */
  private judgeEvent(): Buffer[] {
    const raws = this.held.map((l) => l.raw);
    const data = joinLines(this.dataParts);
    if (data.length === 0) return raws; // e.g. the priming event (id, empty data) of MCP resumption
    const parsed = parseStrictJsonBytes(data);
    if (!parsed.ok) {
      this.onIssue(`dropped an SSE event whose data is not strict JSON: ${parsed.message}`);
      return [];
    }
    const text = this.judgedData(parsed.value);
    if (text === null) return raws;
    let first = true;
    return this.held.flatMap((l) => {
      if (!l.data) return [l.raw];
      if (!first) return [];
      first = false;
      return [Buffer.from(`data: ${text}`), l.raw.subarray(l.contentLength)];
    });
  }

  /** The data to send in place of an event's, or null to send it unchanged. */
  private judgedData(value: unknown): string | null {
    const result = rewrite(value, this.request);
    if (result.ok && !result.changed) return null;
    if (!result.ok) {
      this.onIssue(`replaced an SSE event the gateway cannot judge: ${result.reason}`);
      return JSON.stringify(errorsValue(this.request.ids));
    }
    return stringify(result.value) ?? JSON.stringify(errorsValue(this.request.ids));
  }

  private overflow(): void {
    this.onIssue(`SSE event over ${this.maxEventBytes} bytes: stream ended`);
    this.discarding = true;
    this.held = [];
    this.partial = [];
    this.out.push(Buffer.from(`\ndata: ${JSON.stringify(errorsValue(this.request.ids))}\n\n`));
  }

  private flushOut(): void {
    if (this.out.length === 0) return;
    const bytes = this.out.length === 1 ? this.out[0]! : Buffer.concat(this.out);
    this.out = [];
    this.push(bytes);
  }
}

function isDataLine(content: Buffer): boolean {
  // The field name is everything before the first colon (or the whole line).
  return (
    content.length >= 4 &&
    content[0] === 0x64 &&
    content[1] === 0x61 &&
    content[2] === 0x74 &&
    content[3] === 0x61 &&
    (content.length === 4 || content[4] === 0x3a)
  );
}

function dataValue(content: Buffer): Buffer {
  if (content.length <= 5) return Buffer.alloc(0);
  return content.subarray(content[5] === 0x20 ? 6 : 5);
}

function joinLines(parts: readonly Buffer[]): Buffer {
  if (parts.length === 1) return parts[0]!;
  const pieces: Buffer[] = [];
  parts.forEach((p, i) => {
    if (i > 0) pieces.push(LF_BUF);
    pieces.push(p);
  });
  return Buffer.concat(pieces);
}
