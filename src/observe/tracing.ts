/**
 * OpenTelemetry traces of the requests the gateway proxies: one SERVER span per request on a
 * route, continued from the client's W3C `traceparent` and passed on to the upstream. Off by
 * default and then free: no SDK is loaded, no provider registered, and the pipeline holds no
 * tracer, so a request allocates nothing for tracing (the steps call `span?.…`).
 */
import type { Logger } from 'pino';
import type { TracingConfig } from '../config/types.js';
import type { Tracing } from './types.js';

/** undefined when traces are off: the SDK is then never loaded. */
export async function startTracing(
  config: TracingConfig | null,
  logger: Logger,
): Promise<Tracing | undefined> {
  if (!config) return undefined;
  const { createTracing } = await import('./otel-sdk.js');
  const tracing = createTracing(config, logger);
  logger.info(
    {
      endpoint: config.url ?? 'from OTEL_EXPORTER_OTLP_* or localhost:4318',
      ratio: config.samplerRatio,
    },
    'traces: exporting over OTLP/HTTP',
  );
  return tracing;
}
