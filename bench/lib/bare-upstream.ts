/**
 * The bare JSON-RPC upstream for proxy comparisons (REFERENCE §9), run as a process of its own
 * (`PORT` in the environment, 127.0.0.1 only):
 * - `POST /mcp`: any tools/call is answered with one fixed JSON result (no parsing beyond
 *   reading the body), so the upstream's share stays small and the same for every proxy.
 * - `GET /mcp?stream=<name>`: an SSE stream held open until the client leaves.
 * - `POST /emit?stream=<name>`: writes one event to that stream, carrying the moment of the
 *   write on the system-wide monotonic clock (`process.hrtime`), so the reader in another
 *   process can tell how long the event took to cross.
 */
import { createServer, type ServerResponse } from 'node:http';

const RESULT = Buffer.from(
  JSON.stringify({
    jsonrpc: '2.0',
    id: 1,
    result: { content: [{ type: 'text', text: 'ok' }], isError: false },
  }),
);

const streams = new Map<string, ServerResponse>();
let sequence = 0;

const server = createServer({ keepAliveTimeout: 65_000 }, (req, res) => {
  const url = new URL(req.url ?? '/', 'http://upstream');
  const stream = url.searchParams.get('stream') ?? '';
  if (req.method === 'GET' && url.pathname === '/mcp') {
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store' });
    res.flushHeaders();
    streams.set(stream, res);
    res.on('close', () => {
      if (streams.get(stream) === res) streams.delete(stream);
    });
    return;
  }
  // Drain the body before answering: a proxy that sent one must see it consumed.
  req.resume();
  req.on('end', () => {
    if (url.pathname === '/emit') {
      const target = streams.get(stream);
      if (!target) {
        res.writeHead(404).end();
        return;
      }
      sequence += 1;
      target.write(`id: ${sequence}\ndata: {"t":"${process.hrtime.bigint()}"}\n\n`);
      res.writeHead(204).end();
      return;
    }
    if (req.method === 'POST' && url.pathname === '/mcp') {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': RESULT.length });
      res.end(RESULT);
      return;
    }
    res.writeHead(404).end();
  });
});

server.listen(Number(process.env.PORT), '127.0.0.1');
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.once(signal, () => process.exit(0));
}
