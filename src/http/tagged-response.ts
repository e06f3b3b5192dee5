import {
  ServerResponse,
  type IncomingMessage,
  type OutgoingHttpHeader,
  type OutgoingHttpHeaders,
} from 'node:http';

const REQUEST_ID = 'x-request-id';

type Fields = OutgoingHttpHeaders | OutgoingHttpHeader[];

/**
 * A response that carries its request's `X-Request-Id` in whatever head it sends, however the
 * head is written: `writeHead` with an object or a flat list, or the implicit head of
 * `write`/`end` after `setHeader`. The id is added as the head goes out rather than set up
 * front: a `setHeader` before `writeHead` sends node down its slow path, which stores every
 * field of the head a second time (the forwarder writes the upstream's head as a flat list
 * and nothing before it). The gateway's id wins over an upstream's: it is what its logs hold.
 */
export class TaggedResponse<
  Request extends IncomingMessage = IncomingMessage,
> extends ServerResponse<Request> {
  requestId: string | undefined;

  override writeHead(statusCode: number, statusMessage?: string, headers?: Fields): this;
  override writeHead(statusCode: number, headers?: Fields): this;
  override writeHead(statusCode: number, message?: string | Fields, fields?: Fields): this {
    const id = this.requestId;
    const text = typeof message === 'string' ? message : undefined;
    const given = typeof message === 'string' ? fields : message;
    if (id === undefined || this.headersSent) return super.writeHead(statusCode, text, given);
    return super.writeHead(statusCode, text, withRequestId(this, given, id));
  }
}

function withRequestId(res: ServerResponse, fields: Fields | undefined, id: string) {
  if (Array.isArray(fields)) {
    // Node takes a flat list (name, value, …) or a list of pairs.
    const flat = (Array.isArray(fields[0]) ? fields.flat() : fields) as OutgoingHttpHeader[];
    const list: OutgoingHttpHeader[] = [];
    for (let i = 0; i + 1 < flat.length; i += 2) {
      const name = String(flat[i]);
      if (name.toLowerCase() !== REQUEST_ID) list.push(name, flat[i + 1]!);
    }
    list.push(REQUEST_ID, id);
    return list;
  }
  if (fields !== undefined) {
    const copy: OutgoingHttpHeaders = {};
    for (const name in fields) {
      if (name.toLowerCase() !== REQUEST_ID) copy[name] = fields[name];
    }
    copy[REQUEST_ID] = id;
    return copy;
  }
  res.setHeader(REQUEST_ID, id);
  return undefined;
}

/** Tags `res` with the request id: at once when it is not a `TaggedResponse`. */
export function tagResponse(res: ServerResponse, id: string): void {
  if (res instanceof TaggedResponse) res.requestId = id;
  else res.setHeader(REQUEST_ID, id);
}
