import type { IncomingMessage, ServerResponse } from 'node:http';

type Listener = (req: IncomingMessage, res: ServerResponse) => void;

/**
 * The listener's one handler, bound before the gateway behind it is built (the public origin
 * may need the bound port): 503 with a hint to retry, health checks included, until `open`
 * gives it what to serve with; from then on every request goes there.
 */
export class ReadinessGate {
  private serve: Listener = notReady;

  readonly handler: Listener = (req, res) => this.serve(req, res);

  /** Starts serving with `serve` (once; later calls change nothing). */
  open(serve: Listener): void {
    if (this.serve === notReady) this.serve = serve;
  }
}

function notReady(_req: IncomingMessage, res: ServerResponse): void {
  res.writeHead(503, { 'retry-after': '1', 'cache-control': 'no-store' }).end();
}
