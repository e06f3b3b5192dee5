import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';
import { Duplex, pipeline, Transform, type TransformCallback } from 'node:stream';
import {
  brotliDecompress,
  createBrotliDecompress,
  createGunzip,
  createInflate,
  gunzip,
  inflate,
  type InputType,
  type ZlibOptions,
} from 'node:zlib';
import type { DecideCall } from '../authorize.js';
import {
  filterToolsListJson,
  MAX_TOOLS_LIST_BYTES,
  unfilterable,
  type FilterJsonResult,
  type ToolsListRequest,
} from '../filter-tools.js';
import { ToolsListSseFilter } from '../filter-tools-sse.js';
import type { JsonRpcId, McpCall } from '../inspect.js';
import { isEventStreamMediaType } from '../../core/media-type.js';
import type { ResponseHead, ResponseRewrite, UpstreamHead } from '../../proxy/forward.js';

/**
 * tools/list answers show only the tools this caller may call: the rewrite of the upstream's
 * answer, or undefined when the request holds no tools/list call.
 */
export function toolsListFilter(
  calls: readonly McpCall[],
  decideCall: DecideCall,
  onIssue?: (message: string) => void,
): ((upstream: UpstreamHead) => ResponseRewrite) | undefined {
  // Most POSTs hold no tools/list: nothing to build for them (this runs on every call).
  if (!calls.some((c) => c.method === 'tools/list')) return undefined;
  const idsOf = (keep: (c: McpCall) => boolean) =>
    new Set<JsonRpcId>(calls.filter((c) => c.id !== null && keep(c)).map((c) => c.id!));
  const ids = idsOf((c) => c.method === 'tools/list');
  if (ids.size === 0) return undefined;
  const request: ToolsListRequest = {
    ids,
    otherIds: idsOf((c) => c.method !== 'tools/list'),
    allowTool: (name) => decideCall({ id: null, method: 'tools/call', tool: name }).allow,
  };
  return (upstream) => toolsListRewrite(upstream.headers, request, onIssue);
}

/** The rewrite for one upstream answer, chosen by its Content-Encoding and Content-Type. */
export function toolsListRewrite(
  headers: IncomingHttpHeaders,
  request: ToolsListRequest,
  onIssue?: (message: string) => void,
): ResponseRewrite {
  const codings = contentCodings(headers['content-encoding']);
  if (codings === null) {
    const coding = String(headers['content-encoding']);
    const refused = new JsonToolsFilter(request, { onIssue });
    refused.refuse(`response in a content coding not decoded here: ${coding}`);
    return { body: refused, head: (h) => refused.head(h), holdHead: true };
  }
  // Media types are case-insensitive (RFC 9110 §8.3.1): `Text/Event-Stream` must not slip past.
  if (isEventStreamMediaType(headers['content-type'])) {
    const body = decodedInto(codings, new ToolsListSseFilter({ ...request, onIssue }));
    return { body, head: decodedHead, holdHead: false };
  }
  // Anything else is read as JSON, which fails closed: a body that is not a tools/list answer
  // becomes the filter's 502, never an unfiltered list.
  const filter = new JsonToolsFilter(request, { codings, onIssue });
  return { body: filter, head: (h) => filter.head(h), holdHead: true };
}

/**
 * `filter` fed with the decoded body. A stream that does not decode errors, and the forwarder
 * then cuts the connection: nothing unjudged passes.
 */
function decodedInto(codings: readonly Coding[], filter: Transform): Duplex {
  if (codings.length === 0) return filter;
  const decoders = codings.map((c) => STREAM_DECODERS[c]()).reverse();
  // An error anywhere destroys every stage, the filter (the readable side) included.
  pipeline([...decoders, filter], () => {});
  return Duplex.from({ writable: decoders[0], readable: filter });
}

/** A decoded body goes out without the coding it arrived in. */
function decodedHead(upstream: ResponseHead): ResponseHead {
  const headers = { ...upstream.headers };
  delete headers['content-encoding'];
  return { status: upstream.status, headers };
}

type Coding = 'gzip' | 'deflate' | 'br';

/** More stacked codings than real servers use cost a decoder each: refused. */
const MAX_CODINGS = 2;

/**
 * The content codings applied to a body, in the order applied (RFC 9110 §8.4; names are
 * case-insensitive, `x-gzip` is `gzip` per §8.4.1.3, `identity` is no coding); null when one
 * cannot be decoded here.
 */
export function contentCodings(value: string | string[] | undefined): Coding[] | null {
  if (value === undefined) return [];
  const names = (Array.isArray(value) ? value.join(',') : value)
    .split(',')
    .map((t) => t.trim().toLowerCase())
    .filter((t) => t !== '' && t !== 'identity')
    .map((t) => (t === 'x-gzip' ? 'gzip' : t));
  if (names.length > MAX_CODINGS) return null;
  return names.every(isCoding) ? names : null;
}

const isCoding = (name: string): name is Coding =>
  Object.prototype.hasOwnProperty.call(BUFFER_DECODERS, name);

const STREAM_DECODERS: Readonly<Record<Coding, () => Transform>> = {
  gzip: createGunzip,
  // RFC 9110 §8.4.1.2: "deflate" is the zlib format (RFC 1950).
  deflate: createInflate,
  br: createBrotliDecompress,
};

type BufferDecoder = (
  input: InputType,
  options: ZlibOptions,
  callback: (err: Error | null, result: Buffer) => void,
) => void;

const BUFFER_DECODERS: Readonly<Record<Coding, BufferDecoder>> = {
  gzip: gunzip,
  deflate: inflate,
  br: brotliDecompress as BufferDecoder,
};

/** Undoes `codings` (last applied first), each output capped at `maxBytes`. */
async function decode(body: Buffer, codings: readonly Coding[], maxBytes: number): Promise<Buffer> {
  let bytes = body;
  for (const coding of [...codings].reverse()) {
    bytes = await new Promise<Buffer>((resolve, reject) =>
      BUFFER_DECODERS[coding](bytes, { maxOutputLength: maxBytes }, (err, out) =>
        err ? reject(err) : resolve(out),
      ),
    );
  }
  return bytes;
}

/**
 * Reads a JSON tools/list answer (small by nature) up to `maxBytes`, decodes it, and emits it
 * filtered, or the filter's refusal as soon as it is certain (over the cap: the rest is never
 * read). Its head, asked once the body is out, tells the truth about that body: no stale
 * Content-Encoding or Content-Length, and the 502 a refusal asks for.
 */
export interface JsonFilterOptions {
  /** The codings the answer arrived in (see `contentCodings`). */
  readonly codings?: readonly Coding[];
  /** Largest answer read, before and after decoding. */
  readonly maxBytes?: number;
  /** Told why an answer was refused (for the log; the client gets the generic error). */
  readonly onIssue?: (message: string) => void;
}

export class JsonToolsFilter extends Transform {
  private chunks: Buffer[] = [];
  private length = 0;
  private outcome: FilterJsonResult | undefined;
  private readonly codings: readonly Coding[];
  private readonly maxBytes: number;
  private readonly onIssue: (message: string) => void;

  constructor(
    private readonly request: ToolsListRequest,
    options: JsonFilterOptions = {},
  ) {
    super();
    this.codings = options.codings ?? [];
    this.maxBytes = options.maxBytes ?? MAX_TOOLS_LIST_BYTES;
    this.onIssue = options.onIssue ?? (() => {});
  }

  /** Answers with the refusal now, whatever arrives. */
  refuse(reason: string): void {
    if (!this.outcome) this.settle(unfilterable(this.request.ids, reason));
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    if (this.outcome) return done(); // refused already
    this.length += chunk.length;
    if (this.length > this.maxBytes) this.refuse(`response over ${this.maxBytes} bytes`);
    else this.chunks.push(chunk);
    done();
  }

  override _flush(done: TransformCallback): void {
    if (this.outcome) return done();
    decode(Buffer.concat(this.chunks), this.codings, this.maxBytes).then(
      (body) => {
        this.settle(filterToolsListJson(body, this.request));
        done();
      },
      (err: Error) => {
        this.refuse(`response does not decode: ${err.message}`);
        done();
      },
    );
  }

  /** The head for what this filter emitted (asked only once it has emitted). */
  head(upstream: ResponseHead): ResponseHead {
    const outcome = this.outcome ?? unfilterable(this.request.ids, 'head asked before the body');
    const headers: OutgoingHttpHeaders = { ...upstream.headers };
    headers['content-length'] = outcome.body.length;
    delete headers['content-encoding'];
    if (outcome.ok) return { status: upstream.status, headers };
    headers['content-type'] = 'application/json';
    // An upstream failure status says more than ours (a 404 ends an MCP session).
    const ok = upstream.status >= 200 && upstream.status < 300;
    return { status: ok ? outcome.status : upstream.status, headers };
  }

  private settle(outcome: FilterJsonResult): void {
    this.outcome = outcome;
    this.chunks = [];
    if (!outcome.ok) this.onIssue(`tools/list answer refused: ${outcome.reason}`);
    this.push(outcome.body);
    this.push(null);
  }
}
