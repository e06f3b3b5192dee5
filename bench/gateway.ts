/**
 * The gateway's cost as a proxy, against nginx (see bench/README.md for what each figure means):
 * 1. tools/call to a bare JSON-RPC upstream: direct, through nginx, through a bare node:http
 *    proxy and a bare undici proxy, through the gateway (public route; signed in by cookie,
 *    with an identity assertion; an OAuth bearer token, a four-rule policy and the identity
 *    header).
 * 2. list_tables on the real servers host (/sqlite): direct, through nginx, through the gateway.
 * 3. SSE crossing time: an event written by the upstream until the client has it (and through
 *    a TCP relay in node, the runtime's floor).
 * 4. SSE at scale: the gateway's RSS with `BENCH_SSE_STREAMS` (1,000) streams open.
 * Load and CPU per request as in REFERENCE §9: wrk -t1 -c16 closed loop, interleaved rounds
 * after a warm-up, the proxy process's CPU from /proc, disturbed runs repeated.
 */
import { join } from 'node:path';
import { ensureSmallDb } from './lib/dataset.js';
import {
  BENCH_POLICY,
  POLICY_PATH,
  bareConfigurations,
  sqliteConfigurations,
  type Credentials,
  type Processes,
} from './lib/gateway-configs.js';
import { loadPart } from './lib/gateway-load.js';
import {
  startGatewayProcess,
  type BenchRoute,
  type GatewayOptions,
  type GatewayProcess,
} from './lib/gateway-process.js';
import { config } from './lib/gateway-settings.js';
import { sseScalePart } from './lib/gateway-sse-scale.js';
import { ssePart } from './lib/gateway-sse.js';
import { post } from './lib/loopback-http.js';
import { MCP_HEADERS, toolsCallBody } from './lib/mcp-call.js';
import { hasNginx, startNginx } from './lib/nginx.js';
import { oneFlow } from './lib/oauth-flow.js';
import { statusKib } from './lib/proc.js';
import { CACHE_DIR, LIB_DIST, ROOT, freePort, startService } from './lib/spawn.js';
import { hasWrk } from './lib/wrk.js';

const INSTALL_HINT = 'apt-get install -y nginx-light wrk   (Debian/Ubuntu; needs root or sudo)';

export async function run(): Promise<void> {
  const wrk = hasWrk();
  const nginx = hasNginx();
  if (!wrk || !nginx) {
    const missing = [!nginx && 'nginx', !wrk && 'wrk'].filter(Boolean).join(' and ');
    console.log(`${missing} not installed: ${INSTALL_HINT}`);
    if (!wrk) console.log('  skipping the load parts (1, 2); they need wrk');
    if (!nginx) console.log('  skipping the nginx configurations');
  }
  const procs = await startAll(nginx);
  try {
    const setup = describeSetup(procs.gateway);
    const startRss = statusKib(procs.gateway.service.pid, 'VmRSS');
    if (wrk && config.parts.has('1')) {
      await loadPart(
        `1. tools/call to a bare JSON-RPC upstream`,
        bareConfigurations(procs, await credentials(procs)).filter(selected),
        toolsCallBody('echo', { text: 'hi' }),
        setup,
      );
    }
    if (wrk && config.parts.has('2')) {
      await loadPart(
        `2. list_tables on the servers host (/sqlite)`,
        sqliteConfigurations(procs),
        toolsCallBody('list_tables'),
        setup,
      );
    }
    if (config.parts.has('3')) await ssePart(procs);
    if (config.parts.has('4')) await sseScalePart(procs, startRss);
  } finally {
    await Promise.all(
      [
        procs.upstream,
        procs.host,
        procs.gateway,
        procs.baseline,
        procs.nginx,
        procs.floor,
        procs.undiciFloor,
        procs.relay,
      ].map((p) => p?.stop()),
    );
  }
  if (config.profile)
    console.log(`\ngateway CPU profile written to ${join(CACHE_DIR, 'profiles')}`);
}

/** The references, and the gateway configurations `BENCH_GATEWAY_CONFIGS` names. */
function selected(c: { kind: string; label: string }): boolean {
  const wanted = config.gatewayConfigs;
  return c.kind !== 'gateway' || wanted.length === 0 || wanted.some((w) => c.label.includes(w));
}

async function startAll(withNginx: boolean): Promise<Processes> {
  const started: Array<{ stop(): Promise<void> }> = [];
  try {
    const upstreamPort = await freePort();
    const upstream = await startService(
      'bare-upstream',
      [join(LIB_DIST, 'bare-upstream.js')],
      { PORT: String(upstreamPort) },
      upstreamPort,
    );
    started.push(upstream);
    const hostPort = await freePort();
    const host = await startService(
      'gateway-servers-host',
      [join(ROOT, 'bin/portcullis.js'), 'servers'],
      {
        SQLITE_DB_FILE: ensureSmallDb(),
        ALLOWED_HOSTS: '127.0.0.1',
        HOST: '127.0.0.1',
        PORT: String(hostPort),
        LOG_LEVEL: config.logLevel,
      },
      hostPort,
      { keepOutput: 256 * 1024 },
    );
    started.push(host);
    const routes = benchRoutes(upstreamPort, hostPort);
    const profileFlags = (name: string) =>
      config.profile
        ? ['--cpu-prof', '--cpu-prof-dir', join(CACHE_DIR, 'profiles'), '--cpu-prof-name', name]
        : [];
    const options = gatewayOptions();
    const gateway = await startGatewayProcess('gateway', routes, {
      ...options,
      nodeOptions: [...config.nodeOptions, ...profileFlags('gateway.cpuprofile')],
    });
    started.push(gateway);
    const baseline = config.baseline
      ? await startGatewayProcess('baseline-gateway', routes, {
          ...options,
          nodeOptions: [...config.baselineNodeOptions, ...profileFlags('baseline.cpuprofile')],
          root: config.baseline,
        })
      : undefined;
    if (baseline) started.push(baseline);
    const nginx = withNginx
      ? await startNginx('nginx', [
          { path: '/mcp', upstreamPort },
          { path: '/sqlite', upstreamPort: hostPort },
        ])
      : undefined;
    if (nginx) started.push(nginx);
    const reference = async (script: string, profile: string) => {
      const port = await freePort();
      const service = await startService(
        script,
        [...profileFlags(profile), join(LIB_DIST, `${script}.js`)],
        { PORT: String(port), UPSTREAM_PORT: String(upstreamPort) },
        port,
      );
      started.push(service);
      return service;
    };
    const floor = await reference('bare-node-proxy', 'floor.cpuprofile');
    const undiciFloor = await reference('bare-undici-proxy', 'undici-floor.cpuprofile');
    const relay = await reference('socket-relay', 'relay.cpuprofile');
    return {
      floor,
      undiciFloor,
      relay,
      upstream,
      upstreamPort,
      host,
      hostPort,
      gateway,
      baseline,
      nginx,
      nginxPort: nginx ? Number(new URL(nginx.url).port) : 0,
    };
  } catch (err) {
    await Promise.all(started.map((s) => s.stop()));
    throw err;
  }
}

function benchRoutes(upstreamPort: number, hostPort: number): BenchRoute[] {
  const bare = `http://127.0.0.1:${upstreamPort}/mcp`;
  return [
    { path: '/mcp', to: bare, access: 'public' },
    { path: '/auth/mcp', to: bare, access: 'authenticated' },
    {
      path: POLICY_PATH,
      to: bare,
      access: 'policy',
      policy: BENCH_POLICY,
      passIdentityHeaders: true,
    },
    { path: '/sqlite', to: `http://127.0.0.1:${hostPort}/sqlite`, access: 'public' },
  ];
}

/** Production defaults unless `BENCH_GATEWAY_DEFAULTS=lean`; the cap raised for part 4. */
function gatewayOptions(): GatewayOptions {
  const production = config.defaults === 'production';
  return {
    logLevel: config.logLevel,
    storage: production ? 'sqlite' : 'memory',
    metrics: production,
    ...(config.parts.has('4') && { maxConnectionsPerAddress: config.sseStreams + 64 }),
  };
}

function describeSetup(gw: GatewayProcess): string {
  const audit = ['info', 'debug', 'trace'].includes(config.logLevel);
  return [
    config.defaults === 'production' ? 'storage sqlite (a temporary file)' : 'storage memory',
    gw.metricsPort === undefined ? 'metrics off' : `metrics on (127.0.0.1:${gw.metricsPort})`,
    audit ? 'audit line on' : `audit line off (LOG_LEVEL=${config.logLevel})`,
    `BENCH_GATEWAY_DEFAULTS=${config.defaults}`,
  ].join(', ');
}

/** A session cookie and an OAuth access token per gateway, obtained once before the load. */
async function credentials(p: Processes): Promise<Credentials> {
  const of = async (gw: GatewayProcess) => {
    const bearer = (await oneFlow(gw, 0, POLICY_PATH)).accessToken;
    await expectPolicyDenial(gw, bearer);
    return { cookie: await gw.signIn(), bearer };
  };
  const baseline = p.baseline ? await of(p.baseline) : undefined;
  return { ...(await of(p.gateway)), ...(baseline && { baseline }) };
}

/** The policy route is judged by its rules: the denied tool gets the JSON-RPC denial. */
async function expectPolicyDenial(gw: GatewayProcess, bearer: string): Promise<void> {
  const target = { port: gw.port, path: POLICY_PATH, host: gw.host };
  const headers = { ...MCP_HEADERS, authorization: `Bearer ${bearer}` };
  const answer = await post(target, headers, toolsCallBody('drop_everything'));
  const error = (JSON.parse(answer.body) as { error?: { code?: number } }).error;
  if (answer.status !== 200 || error?.code !== -32602) {
    throw new Error(`${POLICY_PATH}: the denied tool was not denied: ${answer.body.slice(0, 300)}`);
  }
}
