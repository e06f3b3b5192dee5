/**
 * The floor for a proxy written on node:http with undici as its client, the gateway's own
 * stack: undici's keep-alive pool, the request streamed through, the answer relayed from
 * undici's handler callbacks (an event stream's head sent at once), hop-by-hop fields dropped,
 * nothing else. Run as a process of its own (`PORT`, `UPSTREAM_PORT`), 127.0.0.1 only.
 */
import { createServer } from 'node:http';
import { Agent } from 'undici';

const origin = `http://127.0.0.1:${Number(process.env.UPSTREAM_PORT)}`;
const agent = new Agent({ connections: 256, keepAliveTimeout: 4_000 });
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'host']);

const server = createServer({ keepAliveTimeout: 65_000 }, (req, res) => {
  const headers: string[] = [];
  for (let i = 0; i < req.rawHeaders.length; i += 2) {
    if (!HOP_BY_HOP.has(req.rawHeaders[i]!.toLowerCase())) {
      headers.push(req.rawHeaders[i]!, req.rawHeaders[i + 1]!);
    }
  }
  const length = req.headers['content-length'];
  const hasBody = req.headers['transfer-encoding'] !== undefined || (length ?? '0') !== '0';
  const path = req.url ?? '/';
  agent.dispatch(
    { origin, path, method: req.method ?? 'GET', headers, body: hasBody ? req : null },
    {
      onConnect() {},
      onError: () => res.destroy(),
      onHeaders(status, raw, resume) {
        const out: string[] = [];
        let stream = false;
        for (let i = 0; i < raw.length; i += 2) {
          const name = raw[i]!.toString('latin1');
          const value = raw[i + 1]!.toString('latin1');
          if (HOP_BY_HOP.has(name.toLowerCase())) continue;
          if (name.toLowerCase() === 'content-type') stream = value.startsWith('text/event-stream');
          out.push(name, value);
        }
        res.writeHead(status, out);
        // An event stream's head goes at once (its first event may be long in coming).
        if (stream) res.flushHeaders();
        res.on('drain', resume);
        return true;
      },
      onData: (chunk) => res.write(chunk),
      onComplete: () => res.end(),
    },
  );
});

server.listen(Number(process.env.PORT), '127.0.0.1');
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.once(signal, () => process.exit(0));
}
