import type { Server } from 'node:net';

export interface ConnectionCapOptions {
  /** Open connections one address may hold; 0 means no cap. */
  readonly max: number;
  /** Proxies in front of the gateway carry many clients on one address: never capped. */
  readonly exempt: (address: string) => boolean;
  /** Told once each time an address reaches the cap (not per refused connection). */
  readonly onCapped?: (address: string) => void;
}

/**
 * A cap on the connections one client address holds open at once (`max_connections_per_address`).
 * A connection over the cap is closed as soon as it is accepted, before TLS or any byte is read:
 * answering 429/503 would first need the request's headers, and waiting for them is the very
 * hold a slow client uses to exhaust descriptors. Real clients stay far below the cap (browsers
 * open at most 6 connections per host); a refused one sees a reset and retries.
 */
export function capConnectionsPerAddress(server: Server, options: ConnectionCapOptions): void {
  if (options.max <= 0) return;
  const open = new Map<string, number>();
  server.on('connection', (socket) => {
    const address = normalize(socket.remoteAddress ?? '');
    if (address === '' || options.exempt(address)) return;
    const count = open.get(address) ?? 0;
    if (count >= options.max) {
      socket.destroy();
      return;
    }
    open.set(address, count + 1);
    if (count + 1 === options.max) options.onCapped?.(address);
    socket.once('close', () => {
      const left = (open.get(address) ?? 1) - 1;
      if (left <= 0) open.delete(address);
      else open.set(address, left);
    });
  });
}

/** `::ffff:10.0.0.1` and `10.0.0.1` are one client. */
function normalize(address: string): string {
  return address.startsWith('::ffff:') ? address.slice(7) : address;
}
