import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatIssue } from './issues.js';
import { analyzeConfig } from './load.js';

const SECRET = 'wC4RFsEdM1gHFzvRt3XW+iWw6Ddt/1kKkdh66OKxiqs=';
const base = (extra: string) =>
  `shared_secret: ${SECRET}\ncookie_secret: ${SECRET}\ninsecure_server: true\naddress: 127.0.0.1:8080\nidp_provider: builtin\nbuiltin_users: [{ email: a@example.com, password_hash: x }]\n${extra}`;

function analyze(extra: string, env: Record<string, string> = {}) {
  const { config, issues } = analyzeConfig(base(extra), 'c.yaml', env);
  return {
    tracing: config?.tracing,
    messages: issues.map(formatIssue).filter((m) => m.includes(' otel_')),
  };
}

test('traces are off by default, and the otel keys alone do not turn them on', () => {
  assert.equal(analyze('').tracing, null);
  const { tracing, messages } = analyze('otel_exporter_otlp_endpoint: http://collector:4318');
  assert.equal(tracing, null);
  assert.deepEqual(messages, [
    'c.yaml:7 otel_exporter_otlp_endpoint: ignored: traces are off (otel_traces_exporter is not otlp)',
  ]);
  assert.equal(
    analyze('otel_traces_exporter: none', { OTEL_TRACES_EXPORTER: 'otlp' }).tracing,
    null,
  );
  const other = analyze('otel_traces_exporter: jaeger');
  assert.equal(other.tracing, null);
  assert.match(other.messages.join('\n'), /otel_traces_exporter: expected otlp or none/);
});

test('otel_traces_exporter: otlp with Pomerium’s keys; the base endpoint gets v1/traces', () => {
  const { tracing, messages } = analyze(
    [
      'otel_traces_exporter: otlp',
      'otel_exporter_otlp_endpoint: http://collector:4318',
      'otel_traces_sampler_arg: 0.25',
      'otel_exporter_otlp_headers: [a=1, b=2]',
      'otel_exporter_otlp_traces_headers: [b=3]',
      'otel_bsp_schedule_delay: 200',
    ].join('\n'),
    { OTEL_SERVICE_NAME: 'edge', OTEL_TRACES_SAMPLER_ARG: '0.5' },
  );
  assert.deepEqual(messages, []);
  assert.equal(tracing?.url, 'http://collector:4318/v1/traces');
  assert.deepEqual(tracing?.headers, { a: '1', b: '3' });
  // The file wins over the variable; a variable fills what the file leaves out.
  assert.equal(tracing?.samplerRatio, 0.25);
  assert.equal(tracing?.serviceName, 'edge');
  assert.equal(tracing?.scheduleDelayMs, 200);
  const traces = analyze(
    'otel_traces_exporter: otlp\notel_exporter_otlp_endpoint: http://a:4318\notel_exporter_otlp_traces_endpoint: http://b:4318/custom',
  ).tracing;
  assert.equal(traces?.url, 'http://b:4318/custom');
});

test('OTEL_TRACES_EXPORTER=otlp turns traces on; the exporter then finds its own endpoint', () => {
  const { tracing } = analyze('', { OTEL_TRACES_EXPORTER: 'otlp', OTEL_TRACES_SAMPLER_ARG: '0.1' });
  assert.equal(tracing?.url, null);
  assert.equal(tracing?.serviceName, 'portcullis');
  assert.equal(tracing?.samplerRatio, 0.1);
  assert.equal(
    analyze('', { OTEL_TRACES_EXPORTER: 'otlp', OTEL_SDK_DISABLED: 'true' }).tracing,
    null,
  );
});

test('bad otel values are reported with their line', () => {
  const { tracing, messages } = analyze(
    'otel_traces_exporter: otlp\notel_exporter_otlp_protocol: grpc\notel_exporter_otlp_headers: [nokey]',
  );
  assert.equal(tracing, undefined);
  assert.deepEqual(messages, [
    'c.yaml:8 otel_exporter_otlp_protocol: expected http/json or http/protobuf (gRPC is not supported), got "grpc"',
    'c.yaml:9 otel_exporter_otlp_headers[0]: expected key=value',
  ]);
  const ratio = analyze('otel_traces_exporter: otlp\notel_traces_sampler_arg: 2');
  assert.equal(ratio.tracing, undefined);
  assert.match(ratio.messages.join('\n'), /c\.yaml:8 otel_traces_sampler_arg: /);
  const protobuf = analyze(
    'otel_traces_exporter: otlp\notel_exporter_otlp_protocol: http/protobuf',
  );
  assert.ok(protobuf.tracing);
  assert.match(protobuf.messages.join('\n'), /sent as http\/json/);
});
