/**
 * Several gateway processes behind one public origin, as in a deployment behind a load
 * balancer without stickiness: `startReplicas` runs N copies of the shipped CLI, each on its
 * own loopback port, and `startRoundRobin` is the balancer, a node:http proxy that sends each
 * request to the next replica in turn with its Host header as the client sent it.
 */
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import {
  createServer,
  request,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './gateway.js';
import { spawnGatewayFile, type GatewayProcess } from './gateway-process.js';

export interface Replica {
  readonly index: number;
  readonly port: number;
  /** `http://127.0.0.1:<port>`: this replica alone (send the public Host with it). */
  readonly direct: string;
  running(): boolean;
  /** What the process printed (the current one, after a restart). */
  logText(): string;
  /** Sends `signal` and waits for the process to exit; resolves with the signal it died of. */
  kill(signal?: NodeJS.Signals): Promise<NodeJS.Signals | null>;
  /** Starts the process again, same port and configuration. */
  restart(): Promise<void>;
}

export interface Replicas {
  readonly list: readonly Replica[];
  /** Stops every process still running (SIGTERM) and removes the configuration files. */
  close(): Promise<void>;
}

/**
 * Starts `count` gateway processes at once, each configured by `yaml(port)` for its own port
 * (the routes name the public origin), with `env` added to a minimal environment.
 */
export async function startReplicas(
  count: number,
  yaml: (port: number) => string,
  env: Record<string, string> = {},
): Promise<Replicas> {
  const dir = mkdtempSync(join(tmpdir(), 'portcullis-replicas-'));
  const list: Replica[] = [];
  const close = async () => {
    await Promise.all(list.map((r) => r.kill('SIGTERM')));
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const ports = await Promise.all(Array.from({ length: count }, () => freePort()));
    const started = await Promise.allSettled(
      ports.map((port, index) => startReplica(index, port, dir, yaml(port), env)),
    );
    for (const s of started) if (s.status === 'fulfilled') list.push(s.value);
    const failed = started.find((s) => s.status === 'rejected');
    if (failed) throw failed.reason;
  } catch (err) {
    await close();
    throw err;
  }
  return { list, close };
}

async function startReplica(
  index: number,
  port: number,
  dir: string,
  yaml: string,
  env: Record<string, string>,
): Promise<Replica> {
  const file = join(dir, `replica-${index}.yaml`);
  writeFileSync(file, yaml, { mode: 0o600 });
  let cli: GatewayProcess = await spawnGatewayFile(file, env);
  let alive = true;
  return {
    index,
    port,
    direct: `http://127.0.0.1:${port}`,
    running: () => alive,
    logText: () => cli.output(),
    async kill(signal = 'SIGTERM') {
      const { signal: died } = await cli.stop(signal);
      alive = false;
      return died;
    },
    async restart() {
      cli = await spawnGatewayFile(file, env);
      alive = true;
    },
  };
}

export interface Served {
  /** Index (in `backends`) of the replica that answered. */
  readonly backend: number;
  readonly method: string;
  readonly path: string;
  readonly status: number;
}

export interface RoundRobin {
  /** `http://localhost:<port>`: the public origin every replica is configured with. */
  readonly origin: string;
  readonly port: number;
  /** The replicas' ports, taken in turn. */
  backends: readonly number[];
  /** Every request answered, in order, with the replica that answered it. */
  readonly served: Served[];
  /** How many requests each backend answered (from `served`, optionally from index `since`). */
  counts(since?: number): number[];
  close(): Promise<void>;
}

/** RFC 9110 §7.6.1: connection-specific fields are not forwarded (the body is re-framed too). */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);

function endToEnd(headers: IncomingHttpHeaders): IncomingHttpHeaders {
  const kept: IncomingHttpHeaders = {};
  for (const [name, value] of Object.entries(headers)) {
    if (!HOP_BY_HOP.has(name)) kept[name] = value;
  }
  return kept;
}

/**
 * The balancer: each request goes to the next backend, Host and all, on a fresh connection.
 * A backend that refuses the connection (a dead replica) received nothing, so the request goes
 * to the next one, as nginx's `proxy_next_upstream error` does; a balancer's health checks
 * would take the dead one out of turn, this finds out per request.
 */
export async function startRoundRobin(): Promise<RoundRobin> {
  let turn = 0;
  const served: Served[] = [];
  const balancer: RoundRobin = {
    origin: '',
    port: 0,
    backends: [],
    served,
    counts(since = 0) {
      const counts = balancer.backends.map(() => 0);
      for (const s of served.slice(since)) counts[s.backend] = (counts[s.backend] ?? 0) + 1;
      return counts;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };

  const forward = (req: IncomingMessage, res: ServerResponse, body: Buffer, tries: number) => {
    const backend = turn++ % balancer.backends.length;
    const headers = endToEnd(req.headers);
    if (body.length > 0 || req.headers['content-length'] !== undefined) {
      headers['content-length'] = String(body.length);
    }
    const out = request(
      {
        host: '127.0.0.1',
        port: balancer.backends[backend],
        method: req.method,
        path: req.url,
        headers,
        agent: false,
      },
      (answer) => {
        const status = answer.statusCode ?? 502;
        served.push({ backend, method: req.method ?? '', path: req.url ?? '', status });
        res.writeHead(status, answer.statusMessage, endToEnd(answer.headers));
        answer.pipe(res);
      },
    );
    res.on('close', () => out.destroy());
    out.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'ECONNREFUSED' && tries > 1) forward(req, res, body, tries - 1);
      else if (!res.headersSent) res.writeHead(502).end(`balancer: ${err.message}`);
      else res.destroy();
    });
    out.end(body);
  };

  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => forward(req, res, Buffer.concat(chunks), balancer.backends.length));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return Object.assign(balancer, { origin: `http://localhost:${port}`, port });
}
