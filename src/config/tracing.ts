/**
 * OpenTelemetry traces, Pomerium's `otel_*` keys (its `config/otelconfig`), with the standard
 * `OTEL_*` variables as the fallback: a key set in the file wins over the variable. The OTLP
 * exporter reads `OTEL_EXPORTER_OTLP_(TRACES_)ENDPOINT` and `_HEADERS` itself, under what the
 * file gives.
 */
import type { Env } from '../core/env.js';
import type { IssueSink } from './issues.js';
import type { RawSettings } from './schema.js';
import type { TracingConfig } from './types.js';

const TRACING_KEYS = [
  'otel_traces_sampler_arg',
  'otel_exporter_otlp_endpoint',
  'otel_exporter_otlp_traces_endpoint',
  'otel_exporter_otlp_protocol',
  'otel_exporter_otlp_traces_protocol',
  'otel_exporter_otlp_headers',
  'otel_exporter_otlp_traces_headers',
  'otel_exporter_otlp_timeout',
  'otel_exporter_otlp_traces_timeout',
  'otel_bsp_schedule_delay',
  'otel_bsp_max_export_batch_size',
  'otel_resource_attributes',
  'otel_attribute_value_length_limit',
  'otel_service_name',
] as const;

/** null: traces are off (the default); undefined: an error was reported. */
export function buildTracing(
  raw: RawSettings,
  env: Env,
  sink: IssueSink,
): TracingConfig | null | undefined {
  if (!tracesOn(raw, env, sink)) {
    if (raw.otel_traces_exporter === undefined) {
      for (const key of TRACING_KEYS) {
        if (raw[key] !== undefined)
          sink.warn([key], 'ignored: traces are off (otel_traces_exporter is not otlp)');
      }
    }
    return null;
  }
  const ok = checkProtocol(raw, sink);
  const common = keyValues(raw, 'otel_exporter_otlp_headers', sink);
  const traces = keyValues(raw, 'otel_exporter_otlp_traces_headers', sink);
  const resourceAttributes = keyValues(raw, 'otel_resource_attributes', sink);
  if (!ok || !common || !traces || !resourceAttributes) return undefined;
  return {
    url: tracesUrl(raw),
    headers: { ...common, ...traces },
    serviceName: raw.otel_service_name ?? nonEmpty(env.OTEL_SERVICE_NAME) ?? 'portcullis',
    samplerRatio: samplerRatio(raw, env, sink),
    timeoutMs: raw.otel_exporter_otlp_traces_timeout ?? raw.otel_exporter_otlp_timeout ?? null,
    scheduleDelayMs: raw.otel_bsp_schedule_delay ?? null,
    maxExportBatchSize: raw.otel_bsp_max_export_batch_size ?? null,
    resourceAttributes,
    attributeValueLengthLimit: raw.otel_attribute_value_length_limit ?? null,
  };
}

/** `otel_traces_exporter` (`otlp` or `none`, as Pomerium), else `OTEL_TRACES_EXPORTER`. */
function tracesOn(raw: RawSettings, env: Env, sink: IssueSink): boolean {
  if (env.OTEL_SDK_DISABLED?.trim().toLowerCase() === 'true') return false;
  const exporter = raw.otel_traces_exporter;
  if (exporter === undefined) return nonEmpty(env.OTEL_TRACES_EXPORTER) === 'otlp';
  if (exporter === 'otlp') return true;
  if (exporter !== 'none') {
    sink.warn(
      ['otel_traces_exporter'],
      `expected otlp or none, got ${JSON.stringify(exporter)}: traces are off`,
    );
  }
  return false;
}

/**
 * The exporter sends OTLP/HTTP with JSON bodies, which OTLP/HTTP receivers (the Collector,
 * Jaeger, Tempo) accept beside binary protobuf (OTLP spec, "OTLP/HTTP"); gRPC it cannot send.
 */
function checkProtocol(raw: RawSettings, sink: IssueSink): boolean {
  let ok = true;
  for (const key of [
    'otel_exporter_otlp_protocol',
    'otel_exporter_otlp_traces_protocol',
  ] as const) {
    const protocol = raw[key];
    if (protocol === undefined || protocol === 'http/json') continue;
    if (protocol === 'http/protobuf') {
      sink.warn([key], 'traces are sent as http/json, which OTLP/HTTP receivers accept too');
    } else {
      sink.error(
        [key],
        `expected http/json or http/protobuf (gRPC is not supported), got ${JSON.stringify(protocol)}`,
      );
      ok = false;
    }
  }
  return ok;
}

/**
 * OTLP exporter spec, "Endpoint URLs for OTLP/HTTP": the per-signal URL is used as given, the
 * base one gets `v1/traces` appended. null: the exporter's own choice (variables, then
 * `http://localhost:4318/v1/traces`).
 */
function tracesUrl(raw: RawSettings): string | null {
  if (raw.otel_exporter_otlp_traces_endpoint !== undefined) {
    return raw.otel_exporter_otlp_traces_endpoint;
  }
  const base = raw.otel_exporter_otlp_endpoint;
  if (base === undefined) return null;
  return `${base.endsWith('/') ? base : `${base}/`}v1/traces`;
}

/** Pomerium's `key=value` lists; undefined when an entry is malformed (reported). */
function keyValues(
  raw: RawSettings,
  key:
    'otel_exporter_otlp_headers' | 'otel_exporter_otlp_traces_headers' | 'otel_resource_attributes',
  sink: IssueSink,
): Record<string, string> | undefined {
  const out: Record<string, string> = {};
  let ok = true;
  for (const [i, entry] of (raw[key] ?? []).entries()) {
    const eq = entry.indexOf('=');
    if (eq <= 0) {
      sink.error([key, i], 'expected key=value');
      ok = false;
      continue;
    }
    out[entry.slice(0, eq).trim()] = entry.slice(eq + 1).trim();
  }
  return ok ? out : undefined;
}

/** Parent-based ratio sampling; everything (1) unless the key or the variable says less. */
function samplerRatio(raw: RawSettings, env: Env, sink: IssueSink): number {
  if (raw.otel_traces_sampler_arg !== undefined) return raw.otel_traces_sampler_arg;
  const text = nonEmpty(env.OTEL_TRACES_SAMPLER_ARG);
  if (text === undefined) return 1;
  const ratio = Number(text);
  if (Number.isFinite(ratio) && ratio >= 0 && ratio <= 1) return ratio;
  sink.warn(
    ['otel_traces_sampler_arg'],
    `OTEL_TRACES_SAMPLER_ARG: expected a number from 0 to 1, got ${JSON.stringify(text)}: sampling every trace`,
  );
  return 1;
}

function nonEmpty(value: string | undefined): string | undefined {
  const trimmed = value?.trim();
  return trimmed === '' ? undefined : trimmed;
}
