/** The tracing seam the pipeline sees: no OpenTelemetry type crosses it. */
import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import type { Decision } from '../policy/evaluate.js';

/** What the span records of a JSON-RPC call (the pipeline's `McpCall`). */
export interface TracedCall {
  readonly id: string | number | null;
  readonly method: string;
  readonly tool: string | null;
}

/** The span of one request; ended by itself when the response closes. */
export interface RequestSpan {
  /**
   * The policy's verdict and the calls it judged: a single call names the span after it
   * (MCP semantic conventions: `tools/call get_weather`).
   */
  decided(allow: boolean, decisions: readonly Decision[], calls?: readonly TracedCall[]): void;
  /** Puts this span's trace context in the upstream request, in place of the client's. */
  inject(headers: OutgoingHttpHeaders): void;
}

export interface RequestTracer {
  /** `route`: the route's name, as the logs give it. */
  start(req: IncomingMessage, res: ServerResponse, route: string): RequestSpan;
}

export interface Tracing {
  readonly tracer: RequestTracer;
  /** Exports the spans still batched, then stops (gateway shutdown). */
  shutdown(): Promise<void>;
}
