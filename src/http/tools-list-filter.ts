import type { IncomingMessage } from 'node:http';
import { Transform, type TransformCallback } from 'node:stream';
import type { DecideCall } from '../mcp/authorize.js';
import { filterToolsListJson, ToolsListSseFilter, type AllowTool } from '../mcp/filter-tools.js';
import type { JsonRpcId, McpCall } from '../mcp/inspect.js';

/**
 * tools/list answers show only the tools this caller may call: the filter for the upstream's
 * answer, or undefined when the request holds no tools/list call.
 */
export function toolsListFilter(
  calls: readonly McpCall[],
  decideCall: DecideCall,
): ((upstreamRes: IncomingMessage) => Transform) | undefined {
  const listIds = new Set<JsonRpcId>(
    calls.filter((c) => c.method === 'tools/list' && c.id !== null).map((c) => c.id!),
  );
  if (listIds.size === 0) return undefined;
  const allowTool = (name: string) =>
    decideCall({ id: null, method: 'tools/call', tool: name }).allow;
  return (upstreamRes) => {
    // Media types are case-insensitive (RFC 9110 §8.3.1): `Application/JSON` must not
    // slip past the filter.
    const type = String(upstreamRes.headers['content-type'] ?? '').toLowerCase();
    if (type.startsWith('text/event-stream')) {
      return new ToolsListSseFilter({ ids: listIds, allowTool });
    }
    // Anything else is read as JSON, which fails closed: a body that is not a
    // tools/list answer becomes an error, never an unfiltered list.
    return new JsonToolsFilter(listIds, allowTool);
  };
}

/**
 * Buffers a JSON tools/list answer (small by nature; capped by the filter) and re-emits it
 * filtered. The upstream's Content-Length no longer holds, so the forwarder must not copy it.
 */
export class JsonToolsFilter extends Transform {
  private readonly chunks: Buffer[] = [];
  constructor(
    private readonly ids: ReadonlySet<JsonRpcId>,
    private readonly allowTool: AllowTool,
  ) {
    super();
  }
  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.chunks.push(chunk);
    done();
  }
  override _flush(done: TransformCallback): void {
    const result = filterToolsListJson(Buffer.concat(this.chunks), this.ids, this.allowTool);
    done(null, result.body);
  }
}
