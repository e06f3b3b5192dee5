/**
 * The young generation's cap (src/cli/young-generation.ts, issue 13: 1,000 streams under
 * 150 MB): `portcullis gateway` as shipped, its new space read from its own metrics
 * (prom-client's `nodejs_heap_space_size_total_bytes`, V8's committed size of the space) after
 * load that grows it on node's defaults (loading the modules alone takes it to 2 × 16 MiB).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { SEMI_SPACE_MIB } from '../src/cli/young-generation.js';
import { spawnGateway, type GatewayProcess } from './support/gateway-process.js';
import { freePort, gatewayYamlHead, mcpPost, toolCall } from './support/gateway.js';
import { startJsonRpcUpstream, type JsonRpcUpstream } from './support/jsonrpc-upstream.js';

const MIB = 1024 * 1024;

interface Running {
  readonly gateway: GatewayProcess;
  readonly origin: string;
  readonly metrics: string;
}

async function start(upstream: JsonRpcUpstream, env: Record<string, string>): Promise<Running> {
  const port = await freePort();
  const metricsPort = await freePort();
  const origin = `http://localhost:${port}`;
  const gateway = await spawnGateway(
    `${gatewayYamlHead(port)}
databroker_storage_type: memory
metrics_address: 127.0.0.1:${metricsPort}
routes:
  - from: ${origin}
    path: /mcp
    to: ${upstream.url}/mcp
    allow_public_unauthenticated_access: true
    mcp: { server: {} }
`,
    env,
  );
  return { gateway, origin, metrics: `http://127.0.0.1:${metricsPort}/metrics` };
}

/** 600 tools/calls, 8 at a time: megabytes allocated, some of it surviving scavenges. */
async function load(origin: string): Promise<void> {
  let left = 600;
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      while (left-- > 0) {
        const res = await mcpPost(
          origin,
          '/mcp',
          toolCall(left, 'echo', { text: 'x'.repeat(500) }),
        );
        assert.equal(res.status, 200, res.body);
      }
    }),
  );
}

/** The new space's committed bytes, both semi-spaces, as the gateway's metrics report them. */
async function newSpaceBytes(metrics: string): Promise<number> {
  const text = await (await fetch(metrics)).text();
  const line = /^portcullis_nodejs_heap_space_size_total_bytes\{space="new"\} (\d+)$/m.exec(text);
  assert.ok(line, text.slice(0, 2000));
  return Number(line[1]);
}

describe('the young generation of portcullis gateway', () => {
  let upstream: JsonRpcUpstream;
  const running: Running[] = [];
  before(async () => {
    upstream = await startJsonRpcUpstream();
  });
  after(async () => {
    await Promise.all(running.map((r) => r.gateway.stop()));
    await upstream?.close();
  });

  it(`stays at two ${SEMI_SPACE_MIB} MiB semi-spaces under load`, async () => {
    const gw = await start(upstream, {});
    running.push(gw);
    await load(gw.origin);
    assert.ok((await newSpaceBytes(gw.metrics)) <= 2 * SEMI_SPACE_MIB * MIB);
  });

  it("leaves the user's --max-semi-space-size alone", async () => {
    // 8 MiB semi-spaces, which loading the modules fills: the cap would hold them at 4.
    const gw = await start(upstream, { NODE_OPTIONS: '--max-semi-space-size=8' });
    running.push(gw);
    await load(gw.origin);
    assert.equal(await newSpaceBytes(gw.metrics), 2 * 8 * MIB);
  });
});
