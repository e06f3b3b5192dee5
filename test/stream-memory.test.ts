/**
 * What an open SSE stream holds in the gateway (issue 13: 1,000 streams under 150 MB). The
 * pipeline's steps return the forward instead of awaiting it, so a stream that stays open for
 * hours holds one suspended async frame (`serveRoute`, which counts the request once it ends),
 * not one per step. Counted in heap snapshots of `portcullis gateway` itself
 * (`--heapsnapshot-signal`), before and with the streams open: an async function suspended on
 * an await is a `Generator` object there.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { spawnGateway, type GatewayProcess } from './support/gateway-process.js';
import { freePort, gatewayYamlHead, openStream, type OpenStream } from './support/gateway.js';
import { startJsonRpcUpstream, type JsonRpcUpstream } from './support/jsonrpc-upstream.js';

const STREAMS = 40;

interface HeapSnapshot {
  snapshot: { meta: { node_fields: string[]; node_types: [string[]] } };
  nodes: number[];
  strings: string[];
}

/** Objects in a heap snapshot by constructor name. */
function countObjects(snapshot: HeapSnapshot, name: string): number {
  const fields = snapshot.snapshot.meta.node_fields;
  const types = snapshot.snapshot.meta.node_types[0];
  const [typeAt, nameAt] = [fields.indexOf('type'), fields.indexOf('name')];
  let count = 0;
  for (let i = 0; i < snapshot.nodes.length; i += fields.length) {
    const isObject = types[snapshot.nodes[i + typeAt]!] === 'object';
    if (isObject && snapshot.strings[snapshot.nodes[i + nameAt]!] === name) count += 1;
  }
  return count;
}

/** Signals the gateway for a snapshot and reads it once written whole. */
async function takeSnapshot(gateway: GatewayProcess, dir: string): Promise<HeapSnapshot> {
  const before = new Set(readdirSync(dir));
  gateway.child.kill('SIGUSR2');
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 200));
    const file = readdirSync(dir).find((f) => f.endsWith('.heapsnapshot') && !before.has(f));
    if (file === undefined) continue;
    const path = join(dir, file);
    const size = statSync(path).size;
    await new Promise((r) => setTimeout(r, 200));
    if (size === 0 || statSync(path).size !== size) continue;
    try {
      return JSON.parse(readFileSync(path, 'utf8')) as HeapSnapshot;
    } catch {
      // still being written
    }
  }
  throw new Error('no heap snapshot within 30 s');
}

describe('an open SSE stream through the gateway', () => {
  let upstream: JsonRpcUpstream;
  let gateway: GatewayProcess;
  let origin = '';
  const dir = mkdtempSync(join(tmpdir(), 'portcullis-stream-memory-'));
  const streams: OpenStream[] = [];

  before(async () => {
    upstream = await startJsonRpcUpstream();
    const port = await freePort();
    origin = `http://localhost:${port}`;
    const yaml = `${gatewayYamlHead(port)}
databroker_storage_type: memory
routes:
  - from: ${origin}
    path: /mcp
    to: ${upstream.url}/mcp
    allow_public_unauthenticated_access: true
    mcp: { server: {} }
`;
    gateway = await spawnGateway(yaml, {
      NODE_OPTIONS: `--heapsnapshot-signal=SIGUSR2 --diagnostic-dir=${dir}`,
    });
  });
  after(async () => {
    for (const s of streams) s.abort();
    await gateway?.stop();
    await upstream?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('holds one suspended async frame in the gateway, not one per pipeline step', async () => {
    const idle = countObjects(await takeSnapshot(gateway, dir), 'Generator');
    for (let i = 0; i < STREAMS; i++) {
      const headers = { accept: 'text/event-stream', 'mcp-protocol-version': '2025-06-18' };
      const stream = await openStream(origin, { path: '/mcp', headers });
      streams.push(stream);
      assert.equal(stream.status, 200);
      await upstream.nextHeldStream();
    }
    const open = countObjects(await takeSnapshot(gateway, dir), 'Generator');
    const perStream = (open - idle) / STREAMS;
    // Before: four (serveRoute, serveMcpRoute, serveWhole, forwardUpstream).
    assert.ok(perStream >= 0.9 && perStream <= 1.5, `${perStream} suspended frames a stream`);
  });
});
