/**
 * The OpenTelemetry SDK, loaded only when traces are on: a tracer provider of its own (none is
 * registered globally), batching spans to the OTLP/HTTP exporter.
 */
import { diag, DiagLogLevel, type DiagLogger } from '@opentelemetry/api';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { defaultResource, resourceFromAttributes } from '@opentelemetry/resources';
import {
  BatchSpanProcessor,
  ParentBasedSampler,
  TraceIdRatioBasedSampler,
  TracerProvider,
} from '@opentelemetry/sdk-trace';
import { ATTR_SERVICE_NAME } from '@opentelemetry/semantic-conventions';
import type { Logger } from 'pino';
import type { TracingConfig } from '../config/types.js';
import { requestTracer } from './request-span.js';
import type { Tracing } from './types.js';

export function createTracing(config: TracingConfig, logger: Logger): Tracing {
  // The SDK reports failed exports through `diag`, silent unless given a logger.
  diag.setLogger(diagLogger(logger), DiagLogLevel.WARN);
  const exporter = new OTLPTraceExporter({
    ...(config.url !== null ? { url: config.url } : {}),
    headers: { ...config.headers },
    ...(config.timeoutMs !== null ? { timeoutMillis: config.timeoutMs } : {}),
  });
  const processor = new BatchSpanProcessor({
    exporter,
    ...(config.scheduleDelayMs !== null ? { scheduledDelayMillis: config.scheduleDelayMs } : {}),
    ...(config.maxExportBatchSize !== null
      ? { maxExportBatchSize: config.maxExportBatchSize }
      : {}),
  });
  const provider = new TracerProvider({
    resource: defaultResource().merge(
      resourceFromAttributes({
        ...config.resourceAttributes,
        [ATTR_SERVICE_NAME]: config.serviceName,
      }),
    ),
    // A client's sampled flag is followed (W3C Trace Context §3.2.2.5); traces the gateway
    // starts are kept at the configured ratio.
    sampler: new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(config.samplerRatio) }),
    spanProcessors: [processor],
    ...(config.attributeValueLengthLimit !== null
      ? { spanLimits: { attributeValueLengthLimit: config.attributeValueLengthLimit } }
      : {}),
  });
  return {
    tracer: requestTracer(provider.getTracer('portcullis')),
    shutdown: () => provider.shutdown(),
  };
}

function diagLogger(logger: Logger): DiagLogger {
  const log =
    (level: 'warn' | 'error' | 'debug') =>
    (message: string, ...args: unknown[]) =>
      logger[level]({ otel: args.length ? args.map(String) : undefined }, `otel: ${message}`);
  return {
    error: log('error'),
    warn: log('warn'),
    info: log('debug'),
    debug: log('debug'),
    verbose: log('debug'),
  };
}
