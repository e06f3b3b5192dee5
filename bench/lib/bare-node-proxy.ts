/**
 * The floor for a proxy written on node:http (REFERENCE §9): a keep-alive agent, the request
 * and the answer piped through (an event stream's head sent at once), nothing else. Run as a process of its own (`PORT`,
 * `UPSTREAM_PORT`), 127.0.0.1 only.
 */
import { Agent, createServer, request } from 'node:http';

const upstreamPort = Number(process.env.UPSTREAM_PORT);
const agent = new Agent({ keepAlive: true, maxSockets: 256 });

const server = createServer({ keepAliveTimeout: 65_000 }, (req, res) => {
  const upstream = request(
    {
      host: '127.0.0.1',
      port: upstreamPort,
      path: req.url,
      method: req.method,
      headers: { ...req.headers, host: `127.0.0.1:${upstreamPort}` },
      agent,
    },
    (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      // An event stream's head goes at once (its first event may be long in coming).
      if (answer.headers['content-type']?.startsWith('text/event-stream')) res.flushHeaders();
      answer.pipe(res);
    },
  );
  upstream.on('error', () => res.destroy());
  req.pipe(upstream);
});

server.listen(Number(process.env.PORT), '127.0.0.1');
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.once(signal, () => process.exit(0));
}
