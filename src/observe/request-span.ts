/**
 * The span of one proxied request, with the HTTP and MCP semantic conventions' attributes
 * (OpenTelemetry semconv 1.45: "Semantic conventions for Model Context Protocol").
 */
import type { IncomingHttpHeaders, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import {
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  trace,
  type Attributes,
  type Span,
  type TextMapGetter,
  type TextMapSetter,
  type Tracer,
} from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import {
  ATTR_ERROR_TYPE,
  ATTR_HTTP_REQUEST_METHOD,
  ATTR_HTTP_RESPONSE_STATUS_CODE,
} from '@opentelemetry/semantic-conventions';
import type { Decision } from '../policy/evaluate.js';
import type { RequestSpan, RequestTracer, TracedCall } from './types.js';

// Incubating names, written out as OpenTelemetry advises rather than imported from the
// unstable entry point (which may rename them between releases).
const MCP_METHOD_NAME = 'mcp.method.name';
const MCP_SESSION_ID = 'mcp.session.id';
const MCP_PROTOCOL_VERSION = 'mcp.protocol.version';
const GEN_AI_TOOL_NAME = 'gen_ai.tool.name';
const GEN_AI_OPERATION_NAME = 'gen_ai.operation.name';
const JSONRPC_REQUEST_ID = 'jsonrpc.request.id';
// Ours.
const ROUTE = 'portcullis.route';
const DECISION = 'portcullis.decision';
const RULE = 'portcullis.rule';

const propagator = new W3CTraceContextPropagator();

const fromHeaders: TextMapGetter<IncomingHttpHeaders> = {
  keys: (headers) => Object.keys(headers),
  get: (headers, key) => headers[key],
};
const toHeaders: TextMapSetter<OutgoingHttpHeaders> = {
  set: (headers, key, value) => {
    headers[key] = value;
  },
};

export function requestTracer(tracer: Tracer): RequestTracer {
  return {
    start(req, res, route) {
      // W3C Trace Context §3.2: a malformed traceparent is ignored and a new trace begins.
      const parent = propagator.extract(ROOT_CONTEXT, req.headers, fromHeaders);
      const method = req.method ?? 'GET';
      const attributes: Attributes = { [ATTR_HTTP_REQUEST_METHOD]: method, [ROUTE]: route };
      const { 'mcp-session-id': session, 'mcp-protocol-version': version } = req.headers;
      if (typeof session === 'string') attributes[MCP_SESSION_ID] = session;
      if (typeof version === 'string') attributes[MCP_PROTOCOL_VERSION] = version;
      const span = tracer.startSpan(
        `${method} ${route}`,
        { kind: SpanKind.SERVER, attributes },
        parent,
      );
      res.once('close', () => finish(span, res));
      return new TracedRequest(span);
    },
  };
}

class TracedRequest implements RequestSpan {
  constructor(private readonly span: Span) {}

  decided(allow: boolean, decisions: readonly Decision[], calls: readonly TracedCall[] = []) {
    const [call] = calls;
    if (call && calls.length === 1) this.nameAfter(call);
    const deciding = allow
      ? decisions.length === 1
        ? decisions[0]
        : undefined
      : decisions.find((d) => !d.allow);
    this.span.setAttribute(DECISION, allow ? 'allow' : 'deny');
    if (deciding && deciding.rule !== null) this.span.setAttribute(RULE, deciding.rule);
  }

  inject(headers: OutgoingHttpHeaders): void {
    // The client's context was continued in this span; the upstream's parent is this span.
    delete headers.traceparent;
    delete headers.tracestate;
    propagator.inject(trace.setSpan(ROOT_CONTEXT, this.span), headers, toHeaders);
  }

  /** MCP semconv: the span is named `{mcp.method.name} {target}`, the target being the tool. */
  private nameAfter(call: TracedCall): void {
    this.span.setAttribute(MCP_METHOD_NAME, call.method);
    if (call.id !== null) this.span.setAttribute(JSONRPC_REQUEST_ID, String(call.id));
    if (call.tool === null) {
      this.span.updateName(call.method);
      return;
    }
    this.span.setAttribute(GEN_AI_TOOL_NAME, call.tool);
    this.span.setAttribute(GEN_AI_OPERATION_NAME, 'execute_tool');
    this.span.updateName(`${call.method} ${call.tool}`);
  }
}

/** HTTP semconv: a server span is an error for a 5xx answer only. */
function finish(span: Span, res: ServerResponse): void {
  if (res.headersSent) {
    const status = res.statusCode;
    span.setAttribute(ATTR_HTTP_RESPONSE_STATUS_CODE, status);
    if (status >= 500) {
      span.setAttribute(ATTR_ERROR_TYPE, String(status));
      span.setStatus({ code: SpanStatusCode.ERROR });
    }
  }
  span.end();
}
