/**
 * Discovery's own rate: what an upstream's metadata said (or failing to say) stands for a
 * while, so an upstream answering 401 to every request does not make the gateway fetch its
 * metadata on every request. A real loopback server counts the fetches.
 */
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { pino } from 'pino';
import { parseConfig } from '../config/load.js';
import { createMemoryStorage } from '../storage/memory.js';
import { UpstreamDiscovery } from './discovery.js';

const hits = new Map<string, number>();
const server = createServer((req, res) => {
  const path = req.url ?? '/';
  hits.set(path, (hits.get(path) ?? 0) + 1);
  if (path === '/broken-metadata') res.writeHead(500).end();
  else res.writeHead(404).end();
});
let upstream = '';
before(async () => {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  upstream = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(() => new Promise<void>((resolve) => server.close(() => resolve())));

function setup() {
  hits.clear();
  let now = 1_800_000_000_000;
  const { config } = parseConfig(
    `address: 127.0.0.1:8080\ninsecure_server: true\nidp_provider: builtin\n` +
      `routes:\n  - from: http://localhost:8080\n    prefix: /remote\n    to: ${upstream}/mcp\n` +
      `    allow_any_authenticated_user: true\n    mcp: { server: {} }\n`,
    'discovery-test.yaml',
    {},
  );
  const discovery = new UpstreamDiscovery({
    allowedAsDomains: [],
    fetch: { allowPrivateHosts: ['127.0.0.1'] },
    clients: createMemoryStorage().upstreamClients,
    sharedSecret: 'ZGlzY292ZXJ5LXRlc3Qtc2VjcmV0LWRpc2NvdmVyeS10ZXN0',
    logger: pino({ level: 'silent' }),
    now: () => now,
  });
  return { discovery, route: config.routes[0]!, advance: (ms: number) => (now += ms) };
}

test('a failing metadata URL named by every 401 is fetched once per 30 s', async () => {
  const { discovery, route, advance } = setup();
  const named = `${upstream}/broken-metadata`;
  for (let i = 0; i < 5; i++) assert.equal(await discovery.resolve(route, named), undefined);
  assert.equal(hits.get('/broken-metadata'), 1);
  advance(30_001);
  await discovery.resolve(route, named);
  assert.equal(hits.get('/broken-metadata'), 2);
});

test('"not protected" stands for a minute; a 401 naming a URL not tried yet is followed, once', async () => {
  const { discovery, route, advance } = setup();
  for (let i = 0; i < 3; i++) assert.equal(await discovery.resolve(route), undefined);
  assert.equal(hits.get('/.well-known/oauth-protected-resource/mcp'), 1);
  const named = `${upstream}/elsewhere/metadata`;
  for (let i = 0; i < 3; i++) await discovery.resolve(route, named);
  assert.equal(hits.get('/elsewhere/metadata'), 1, 'the new URL is tried, then stands');
  advance(60_001);
  await discovery.resolve(route);
  assert.equal(hits.get('/.well-known/oauth-protected-resource/mcp'), 2);
});
