/**
 * Metrics with a real Prometheus (issue 13 "Must show"): Debian's `prometheus`, started here
 * with a config of its own that scrapes the gateway's `metrics_address` every second with
 * `metrics_basic_auth`; one tools/call through the gateway must appear in Prometheus's query
 * API under its route and MCP method. Prometheus is stopped at the end, whatever happened.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  freePort,
  gatewayYamlHead,
  mcpPost,
  startTestGateway,
  toolCall,
  type TestGateway,
} from './support/gateway.js';
import { startJsonRpcUpstream, type JsonRpcUpstream } from './support/jsonrpc-upstream.js';

const PROMETHEUS = process.env.PROMETHEUS_PATH ?? '/usr/bin/prometheus';
const USER = 'scraper';
const PASSWORD = 'metrics test password';

interface Prometheus {
  readonly url: string;
  stop(): Promise<void>;
}

/** Prometheus scraping `target` every second with basic auth, its data in a temp folder. */
async function startPrometheus(target: string): Promise<Prometheus> {
  const dir = mkdtempSync(join(tmpdir(), 'portcullis-prometheus-'));
  const config = join(dir, 'prometheus.yml');
  writeFileSync(
    config,
    [
      'global: { scrape_interval: 1s, evaluation_interval: 1s }',
      'scrape_configs:',
      '  - job_name: portcullis',
      '    scrape_interval: 1s',
      '    metrics_path: /metrics',
      `    basic_auth: { username: ${USER}, password: '${PASSWORD}' }`,
      `    static_configs: [{ targets: ['${target}'] }]`,
      '',
    ].join('\n'),
  );
  const port = await freePort();
  const child: ChildProcess = spawn(
    PROMETHEUS,
    [
      `--config.file=${config}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let output = '';
  child.stderr?.on('data', (c: Buffer) => (output += c.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await exited;
    rmSync(dir, { recursive: true, force: true });
  };
  const url = `http://127.0.0.1:${port}`;
  try {
    await until(
      async () => (await fetch(`${url}/-/ready`)).ok,
      30_000,
      () => output,
    );
  } catch (err) {
    await stop();
    throw err;
  }
  return { url, stop };
}

/** Polls `check` until it holds (errors count as not yet). */
async function until(check: () => Promise<boolean>, timeoutMs: number, why: () => string) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      if (await check()) return;
    } catch {
      // not up yet
    }
    if (Date.now() > deadline) throw new Error(`timed out: ${why()}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

interface QueryAnswer {
  readonly status: string;
  readonly data: { readonly result: { metric: Record<string, string>; value: [number, string] }[] };
}

async function query(prometheus: Prometheus, promql: string): Promise<QueryAnswer> {
  const res = await fetch(`${prometheus.url}/api/v1/query?query=${encodeURIComponent(promql)}`);
  return (await res.json()) as QueryAnswer;
}

describe('metrics scraped by a real Prometheus', () => {
  let upstream: JsonRpcUpstream;
  let gw: TestGateway;
  let prometheus: Prometheus | undefined;
  let metricsPort = 0;

  before(async () => {
    upstream = await startJsonRpcUpstream();
    metricsPort = await freePort();
    const auth = Buffer.from(`${USER}:${PASSWORD}`).toString('base64');
    gw = await startTestGateway(
      (port) => `
${gatewayYamlHead(port)}
databroker_storage_type: memory
metrics_address: 127.0.0.1:${metricsPort}
metrics_basic_auth: ${auth}
routes:
  - from: http://localhost:${port}
    prefix: /open
    to: ${upstream.url}/open
    name: Open DB
    allow_public_unauthenticated_access: true
    mcp: { server: {} }
`,
    );
    prometheus = await startPrometheus(`127.0.0.1:${metricsPort}`);
  });
  after(async () => {
    await prometheus?.stop();
    await gw?.close();
    await upstream?.close();
  });

  it('counts a tools/call under its route and method', async () => {
    const res = await mcpPost(gw.origin, '/open', toolCall(1, 'read'));
    assert.equal(res.status, 200, res.body);
    const promql = 'portcullis_requests_total{route="Open DB",mcp_method="tools/call"}';
    let last: QueryAnswer | undefined;
    await until(
      async () => {
        last = await query(prometheus!, promql);
        return last.data.result.some((r) => Number(r.value[1]) >= 1);
      },
      30_000,
      () => JSON.stringify(last),
    );
    const [series] = last!.data.result;
    assert.equal(series?.metric.status, '200');
    assert.equal(series?.metric.job, 'portcullis');
    // The scrape authenticated: `up` is 1 (a refused scrape would be 0).
    const up = await query(prometheus!, 'up{job="portcullis"}');
    assert.equal(up.data.result[0]?.value[1], '1');
  });
});
