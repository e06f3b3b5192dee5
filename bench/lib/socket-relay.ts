/**
 * The floor for any relay in node: each client connection piped to a connection of its own to
 * the upstream, bytes copied both ways with no HTTP parsing at all. What node's event loop, its
 * socket streams and two system calls per chunk cost, for the SSE crossing (part 3). Run as a
 * process of its own (`PORT`, `UPSTREAM_PORT`), 127.0.0.1 only.
 */
import { connect, createServer } from 'node:net';

const upstreamPort = Number(process.env.UPSTREAM_PORT);

createServer({ noDelay: true }, (client) => {
  const upstream = connect({ port: upstreamPort, host: '127.0.0.1', noDelay: true });
  client.pipe(upstream);
  upstream.pipe(client);
  client.on('error', () => upstream.destroy());
  upstream.on('error', () => client.destroy());
  client.on('close', () => upstream.destroy());
  upstream.on('close', () => client.destroy());
}).listen(Number(process.env.PORT), '127.0.0.1');

for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.once(signal, () => process.exit(0));
}
