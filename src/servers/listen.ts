/**
 * The servers host's listening sockets. `HOST` and `PORT` are start-up input: a name that does
 * not resolve or an address the machine cannot bind is reported as the variable's error (one
 * line, exit 78), not as a stack trace.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { lookup } from 'node:dns/promises';
import type { AddressInfo } from 'node:net';
import { ConfigError } from '../core/errors.js';
import { errnoCode, listenFailure } from '../core/listen-failure.js';

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

/**
 * Listens on every address `host` resolves to (so `localhost` covers both 127.0.0.1 and
 * ::1), all on the same port.
 */
export async function listenAll(handler: Handler, host: string, port: number): Promise<Server[]> {
  const servers: Server[] = [];
  let boundPort = port;
  for (const address of await resolveHost(host)) {
    const server = createServer({ keepAliveTimeout: 65_000 }, handler);
    try {
      await listenOn(server, boundPort, address);
    } catch (err) {
      // A second loopback family may be missing on the machine; the first must bind.
      if (servers.length === 0) throw listenError(err, address, boundPort);
      continue;
    }
    boundPort = (server.address() as AddressInfo).port;
    servers.push(server);
  }
  return servers;
}

async function resolveHost(host: string): Promise<string[]> {
  try {
    return [...new Set((await lookup(host, { all: true })).map((a) => a.address))];
  } catch (err) {
    throw new ConfigError('HOST', `cannot resolve ${JSON.stringify(host)} (${errorCode(err)})`);
  }
}

function listenOn(server: Server, port: number, address: string): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, address, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

/**
 * The variable to change for a bind that failed because of its address
 * (`core/listen-failure.ts`): the address is HOST's, the rest PORT's. Any other failure is thrown
 * as it is.
 */
function listenError(err: unknown, address: string, port: number): unknown {
  const message = listenFailure(err, address, port);
  if (message === undefined) return err;
  return new ConfigError(errnoCode(err) === 'EADDRNOTAVAIL' ? 'HOST' : 'PORT', message);
}

function errorCode(err: unknown): string {
  return errnoCode(err) ?? String(err);
}
