/**
 * An https server that plays the host of Client ID Metadata Documents (and of the JWKS a
 * `private_key_jwt` client points at): documents are set per path, and every TCP connection
 * and request is counted, so tests can tell "refused before connecting" from "fetched".
 */
import { once } from 'node:events';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { TestCa } from './test-ca.js';

export interface Served {
  readonly body: string;
  readonly headers?: Record<string, string>;
}

export interface CimdHost {
  readonly port: number;
  /** `https://<host>:<port><path>`; host `localhost` unless given. */
  url(path: string, host?: string): string;
  /** Serves `value` (JSON-encoded unless a string) at `path`. */
  serve(path: string, value: unknown, headers?: Record<string, string>): void;
  /** Requests received for `path` (any host name). */
  fetches(path: string): number;
  /** TCP connections accepted so far. */
  connections(): number;
  /** TLS handshakes completed so far (the client trusted the certificate). */
  handshakes(): number;
  /** The distinct TLS server names (SNI) clients asked for. */
  serverNames(): string[];
  close(): Promise<void>;
}

export async function startCimdHost(ca: TestCa): Promise<CimdHost> {
  const documents = new Map<string, Served>();
  const counts = new Map<string, number>();
  let connections = 0;
  let handshakes = 0;
  const serverNames = new Set<string>();
  const server: Server = createServer({ cert: ca.certPem, key: ca.keyPem }, (req, res) => {
    const path = new URL(req.url ?? '/', 'https://x').pathname;
    counts.set(path, (counts.get(path) ?? 0) + 1);
    const doc = documents.get(path);
    if (doc === undefined) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, {
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(doc.body),
      ...doc.headers,
    });
    res.end(doc.body);
  });
  server.on('connection', () => connections++);
  server.on('secureConnection', (socket: TLSSocket) => {
    handshakes++;
    const name = (socket as TLSSocket & { servername?: string | false }).servername;
    if (typeof name === 'string') serverNames.add(name);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    port,
    url: (path, host = 'localhost') => `https://${host}:${port}${path}`,
    serve(path, value, headers) {
      documents.set(path, {
        body: typeof value === 'string' ? value : JSON.stringify(value),
        headers,
      });
    },
    fetches: (path) => counts.get(path) ?? 0,
    connections: () => connections,
    handshakes: () => handshakes,
    serverNames: () => [...serverNames],
    close: async () => {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
