/**
 * The gateway's cost as a proxy, against nginx (see bench/README.md for what each figure means):
 * 1. tools/call to a bare JSON-RPC upstream: direct, through nginx, through the gateway (public
 *    route; authenticated route, which signs an identity assertion per request).
 * 2. list_tables on the real servers host (/sqlite): direct, through nginx, through the gateway.
 * 3. SSE crossing time: an event written by the upstream until the client has it.
 * Load and CPU per request as in REFERENCE §9: wrk -t1 -c16 closed loop, interleaved rounds
 * after a warm-up, the proxy process's CPU from /proc, disturbed runs repeated.
 */
import { join } from 'node:path';
import { ensureSmallDb } from './lib/dataset.js';
import { startGatewayProcess, type GatewayProcess } from './lib/gateway-process.js';
import { knob } from './lib/knob.js';
import { expectToolSuccess, openTimedStream, post, type Target } from './lib/loopback-http.js';
import { MCP_HEADERS, toolsCallBody } from './lib/mcp-call.js';
import { measureRun, median, waitForQuiet, type Measured } from './lib/measure.js';
import { hasNginx, startNginx } from './lib/nginx.js';
import { TICKS_PER_SECOND, systemBusyTicks, treeSnapshot, treeUsage } from './lib/proc.js';
import { CACHE_DIR, LIB_DIST, ROOT, freePort, startService, type Service } from './lib/spawn.js';
import { measureSteady, type QuietBudget, type SteadySettings } from './lib/steady.js';
import { fmt, printTable } from './lib/table.js';
import { hasWrk, writePostScript } from './lib/wrk.js';

const config = {
  durationS: knob('BENCH_DURATION_S', 5),
  warmupS: knob('BENCH_WARMUP_S', 3),
  rounds: knob('BENCH_ROUNDS', 3),
  connections: knob('BENCH_CONNECTIONS', 16),
  maxOtherCores: knob('BENCH_MAX_OTHER_CORES', 0.1),
  retries: knob('BENCH_RETRIES', 2),
  quietBudgetS: knob('BENCH_QUIET_WAIT_S', 30),
  sseEvents: Math.max(1, knob('BENCH_SSE_EVENTS', 200)),
  logLevel: process.env.BENCH_LOG_LEVEL || 'info',
  /** Write a V8 CPU profile of the gateway into .bench/profiles when it stops. */
  profile: process.env.BENCH_GATEWAY_PROFILE === '1',
  /**
   * Another checkout, built (`npm ci && npm run build` there): its gateway runs beside this one,
   * interleaved in the same rounds, so a change's cost is a ratio measured in one run.
   */
  baseline: process.env.BENCH_BASELINE_ROOT || undefined,
  /** Which parts to run, e.g. `1,3` (default all): a profile of one part only. */
  parts: new Set((process.env.BENCH_GATEWAY_PARTS || '1,2,3').split(',').map((p) => p.trim())),
};

const INSTALL_HINT = 'apt-get install -y nginx-light wrk   (Debian/Ubuntu; needs root or sudo)';

const steady: SteadySettings = { maxOtherCores: config.maxOtherCores, retries: config.retries };
const budget: QuietBudget = { ms: config.quietBudgetS * 1000 };

interface Processes {
  readonly upstream: Service;
  readonly upstreamPort: number;
  readonly host: Service;
  readonly hostPort: number;
  readonly gateway: GatewayProcess;
  /** The gateway of `BENCH_BASELINE_ROOT`, with the same routes. */
  readonly baseline: GatewayProcess | undefined;
  readonly nginx: Service | undefined;
  readonly nginxPort: number;
  /** A bare node:http proxy in front of the upstream: what any node proxy costs at least. */
  readonly floor: Service;
}

/** One way of reaching the upstream, and the process whose CPU per request is its figure. */
interface Configuration {
  readonly label: string;
  readonly kind: 'direct' | 'nginx' | 'node' | 'gateway';
  readonly target: Target;
  readonly pid: number;
  /** The upstream's pid when `pid` is a proxy in front of it. */
  readonly companions: readonly number[];
  readonly headers: Record<string, string>;
}

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
    const cookie = await procs.gateway.signIn();
    const baselineCookie = await procs.baseline?.signIn();
    if (wrk && config.parts.has('1')) {
      await loadPart(
        `1. tools/call to a bare JSON-RPC upstream`,
        bareConfigurations(procs, cookie, baselineCookie),
        toolsCallBody('echo', { text: 'hi' }),
      );
    }
    if (wrk && config.parts.has('2')) {
      await loadPart(
        `2. list_tables on the servers host (/sqlite)`,
        sqliteConfigurations(procs),
        toolsCallBody('list_tables'),
      );
    }
    if (config.parts.has('3')) await ssePart(procs);
  } finally {
    await Promise.all(
      [procs.upstream, procs.host, procs.gateway, procs.baseline, procs.nginx, procs.floor].map(
        (p) => p?.stop(),
      ),
    );
  }
  if (config.profile)
    console.log(`\ngateway CPU profile written to ${join(CACHE_DIR, 'profiles')}`);
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
    const routes = [
      { path: '/mcp', to: `http://127.0.0.1:${upstreamPort}/mcp`, access: 'public' as const },
      {
        path: '/auth/mcp',
        to: `http://127.0.0.1:${upstreamPort}/mcp`,
        access: 'authenticated' as const,
      },
      { path: '/sqlite', to: `http://127.0.0.1:${hostPort}/sqlite`, access: 'public' as const },
    ];
    const profileFlags = (name: string) =>
      config.profile
        ? ['--cpu-prof', '--cpu-prof-dir', join(CACHE_DIR, 'profiles'), '--cpu-prof-name', name]
        : [];
    const gateway = await startGatewayProcess(
      'gateway',
      routes,
      config.logLevel,
      profileFlags('gateway.cpuprofile'),
    );
    started.push(gateway);
    const baseline = config.baseline
      ? await startGatewayProcess(
          'baseline-gateway',
          routes,
          config.logLevel,
          profileFlags('baseline.cpuprofile'),
          undefined,
          config.baseline,
        )
      : undefined;
    if (baseline) started.push(baseline);
    const nginx = withNginx
      ? await startNginx('nginx', [
          { path: '/mcp', upstreamPort },
          { path: '/sqlite', upstreamPort: hostPort },
        ])
      : undefined;
    if (nginx) started.push(nginx);
    const floorPort = await freePort();
    const floor = await startService(
      'bare-node-proxy',
      [join(LIB_DIST, 'bare-node-proxy.js')],
      { PORT: String(floorPort), UPSTREAM_PORT: String(upstreamPort) },
      floorPort,
    );
    started.push(floor);
    return {
      floor,
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

function bareConfigurations(
  p: Processes,
  cookie: string,
  baselineCookie: string | undefined,
): Configuration[] {
  const up = p.upstream.pid;
  const gw = p.gateway;
  const base = p.baseline;
  return [
    direct('direct', p.upstreamPort, '/mcp', up),
    ...(p.nginx ? [viaNginx('nginx', p, '/mcp', up)] : []),
    floorProxy(p, up),
    gateway('gateway, public route', gw, '/mcp', up, {}),
    gateway('gateway, signed-in + assertion', gw, '/auth/mcp', up, { Cookie: cookie }),
    ...(base && baselineCookie
      ? [
          gateway('baseline, public route', base, '/mcp', up, {}),
          gateway('baseline, signed-in + assertion', base, '/auth/mcp', up, {
            Cookie: baselineCookie,
          }),
        ]
      : []),
  ];
}

function sqliteConfigurations(p: Processes): Configuration[] {
  const host = p.host.pid;
  return [
    direct('direct', p.hostPort, '/sqlite', host),
    ...(p.nginx ? [viaNginx('nginx', p, '/sqlite', host)] : []),
    gateway('gateway, public route', p.gateway, '/sqlite', host, {}),
  ];
}

function direct(label: string, port: number, path: string, pid: number): Configuration {
  const target = { port, path, host: `127.0.0.1:${port}` };
  return { label, kind: 'direct', target, pid, companions: [], headers: {} };
}

function viaNginx(label: string, p: Processes, path: string, upstream: number): Configuration {
  const target = { port: p.nginxPort, path, host: `127.0.0.1:${p.nginxPort}` };
  return { label, kind: 'nginx', target, pid: p.nginx!.pid, companions: [upstream], headers: {} };
}

function floorProxy(p: Processes, upstream: number): Configuration {
  const port = Number(new URL(p.floor.url).port);
  const target = { port, path: '/mcp', host: `127.0.0.1:${port}` };
  const label = 'bare node:http proxy';
  return { label, kind: 'node', target, pid: p.floor.pid, companions: [upstream], headers: {} };
}

function gateway(
  label: string,
  gw: GatewayProcess,
  path: string,
  upstream: number,
  headers: Record<string, string>,
): Configuration {
  const target = { port: gw.port, path, host: gw.host };
  return { label, kind: 'gateway', target, pid: gw.service.pid, companions: [upstream], headers };
}

// ---- 1 and 2: CPU per request and throughput under wrk ----

async function loadPart(title: string, configs: Configuration[], body: string): Promise<void> {
  console.log(
    `\n-- ${title}: wrk -t1 -c${config.connections} -d${config.durationS}s, ${config.rounds} interleaved rounds after ${config.warmupS}s warm-up; LOG_LEVEL=${config.logLevel} --`,
  );
  // wrk only sets Host itself when the script has not (its key is case-sensitive: `Host`).
  const scripts = configs.map((c) =>
    writePostScript(body, { ...MCP_HEADERS, ...c.headers, Host: c.target.host }),
  );
  const results = new Map<string, Measured[]>();
  try {
    for (const c of configs) await check(c, body);
    for (const [i, c] of configs.entries()) {
      await measureRun(c.pid, load(c, scripts[i]!.path, config.warmupS), c.companions);
    }
    for (let round = 0; round < config.rounds; round++) {
      // A B C D, then D C B A: drift over time weighs on every configuration alike.
      const order = [...configs.keys()];
      if (round % 2 === 1) order.reverse();
      for (const i of order) {
        const c = configs[i]!;
        const run = { label: c.label, pid: c.pid, companions: c.companions };
        const m = await measureSteady(
          { ...run, load: load(c, scripts[i]!.path, config.durationS) },
          steady,
          budget,
          (m) => describeRun(c, m),
        );
        results.set(c.label, [...(results.get(c.label) ?? []), m]);
      }
    }
    for (const c of configs) await check(c, body);
  } finally {
    for (const s of scripts) s.remove();
  }
  reportLoad(configs, results);
}

function load(c: Configuration, script: string, durationS: number) {
  return {
    url: `http://127.0.0.1:${c.target.port}${c.target.path}`,
    script,
    threads: 1,
    connections: config.connections,
    durationS,
  };
}

async function check(c: Configuration, body: string): Promise<void> {
  const answer = await post(c.target, { ...MCP_HEADERS, ...c.headers }, body);
  expectToolSuccess(answer, c.label);
}

const proxyUs = (c: Configuration, m: Measured) => (c.kind === 'direct' ? NaN : m.cpuUsTree);
const upstreamUs = (c: Configuration, m: Measured) =>
  c.kind === 'direct' ? m.cpuUsTree : (m.companionUs[0] ?? NaN);

function describeRun(c: Configuration, m: Measured): string {
  const cell = (n: number, width: number) => (Number.isNaN(n) ? '-' : fmt.int(n)).padStart(width);
  return [
    `proxy ${cell(proxyUs(c, m), 4)} µs/req`,
    `upstream ${cell(upstreamUs(c, m), 4)} µs/req`,
    `${cell(m.wrk.rps, 6)} req/s`,
    `p50 ${fmt.ms(m.wrk.p50Ms).padStart(7)}`,
    `wrk ${m.wrkCores.toFixed(2)} cores`,
    `others ${m.otherCores.toFixed(3)} cores`,
  ].join('  ');
}

interface Summary {
  readonly label: string;
  readonly kind: Configuration['kind'];
  readonly proxy: number;
  readonly upstream: number;
  readonly rps: number;
  readonly p50: number;
  readonly disturbed: number;
}

function reportLoad(configs: Configuration[], results: ReadonlyMap<string, Measured[]>): void {
  const stats: Summary[] = configs.map((c) => {
    const runs = results.get(c.label) ?? [];
    return {
      label: c.label,
      kind: c.kind,
      proxy: median(runs.map((m) => proxyUs(c, m))),
      upstream: median(runs.map((m) => upstreamUs(c, m))),
      rps: median(runs.map((m) => m.wrk.rps)),
      p50: median(runs.map((m) => m.wrk.p50Ms)),
      disturbed: runs.filter((m) => m.otherCores > config.maxOtherCores).length,
    };
  });
  const base = stats.find((s) => s.kind === 'direct');
  const nginx = stats.find((s) => s.kind === 'nginx');
  const us = (n: number) => (Number.isNaN(n) ? '-' : fmt.int(n));
  const added = (s: Summary) => (base && s !== base ? s.p50 - base.p50 : NaN);
  const rows = stats.map((s) => [
    s.label,
    us(s.proxy),
    us(s.upstream),
    fmt.int(s.rps),
    fmt.ms(s.p50),
    Number.isNaN(added(s)) ? '-' : `${Math.round(added(s) * 1000)} µs`,
    String(s.disturbed),
  ]);
  if (nginx) {
    for (const s of stats.filter((x) => x.kind === 'gateway' || x.kind === 'node')) {
      rows.push([
        `ratio ${s.label} / nginx`,
        fmt.ratio(s.proxy / nginx.proxy),
        '',
        fmt.ratio(s.rps / nginx.rps),
        fmt.ratio(s.p50 / nginx.p50),
        fmt.ratio(added(s) / added(nginx)),
        '',
      ]);
    }
  }
  console.log('\nmedians over the rounds:');
  printTable(
    [
      'configuration',
      'proxy CPU µs/req',
      'upstream CPU µs/req',
      'req/s',
      'p50',
      'added p50',
      'disturbed runs',
    ],
    rows,
  );
}

// ---- 3. SSE crossing time ----

async function ssePart(p: Processes): Promise<void> {
  const warmup = 20;
  console.log(
    `\n-- 3. SSE crossing time: upstream write → client read, ${config.sseEvents} events per configuration, interleaved, after ${warmup} unmeasured --`,
  );
  const streamOf = (name: string, port: number, host: string, path = '/mcp') => ({
    name,
    target: { port, path: `${path}?stream=${name}`, host },
  });
  const wanted = [
    streamOf('direct', p.upstreamPort, `127.0.0.1:${p.upstreamPort}`),
    ...(p.nginx ? [streamOf('nginx', p.nginxPort, `127.0.0.1:${p.nginxPort}`)] : []),
    streamOf('gateway', p.gateway.port, p.gateway.host),
  ];
  const streams = await Promise.all(
    wanted.map(async (w) => ({ ...w, stream: await openTimedStream(w.target, MCP_HEADERS) })),
  );
  const pids = [p.upstream.pid, p.gateway.service.pid, ...(p.nginx ? [p.nginx.pid] : [])];
  try {
    for (let attempt = 0; ; attempt++) {
      const waited = await waitForQuiet(config.maxOtherCores, budget.ms);
      budget.ms = Math.max(0, budget.ms - waited);
      const busy0 = systemBusyTicks();
      const trees0 = pids.map((pid) => treeSnapshot(pid));
      const bench0 = process.cpuUsage();
      const started = performance.now();
      const crossings = await crossAll(p, streams, warmup);
      const seconds = (performance.now() - started) / 1000;
      const bench = process.cpuUsage(bench0);
      const ours =
        pids.reduce((sum, pid, i) => sum + treeUsage(trees0[i]!, treeSnapshot(pid)).tree, 0) +
        (bench.user + bench.system) / (1e6 / TICKS_PER_SECOND);
      const others = Math.max(0, systemBusyTicks() - busy0 - ours) / TICKS_PER_SECOND / seconds;
      const disturbed = others > config.maxOtherCores;
      const again = disturbed && attempt < config.retries && budget.ms > 0;
      console.log(
        `  ${fmt.int(seconds * 1000)} ms, others ${others.toFixed(3)} cores${disturbed ? (again ? '  disturbed: again' : '  DISTURBED') : ''}`,
      );
      if (again) continue;
      reportSse(crossings, disturbed);
      return;
    }
  } finally {
    for (const s of streams) s.stream.close();
  }
}

async function crossAll(
  p: Processes,
  streams: ReadonlyArray<{ name: string; stream: Awaited<ReturnType<typeof openTimedStream>> }>,
  warmup: number,
): Promise<Map<string, number[]>> {
  const crossings = new Map<string, number[]>(streams.map((s) => [s.name, []]));
  const control = { port: p.upstreamPort, host: `127.0.0.1:${p.upstreamPort}` };
  for (let i = 0; i < warmup + config.sseEvents; i++) {
    // Rotate who goes first, so no configuration always follows the same one.
    for (let k = 0; k < streams.length; k++) {
      const s = streams[(i + k) % streams.length]!;
      const arrived = s.stream.next();
      const emitted = await post({ ...control, path: `/emit?stream=${s.name}` }, {}, '');
      if (emitted.status !== 204) throw new Error(`emit on ${s.name}: HTTP ${emitted.status}`);
      const us = await arrived;
      if (i >= warmup) crossings.get(s.name)!.push(us);
      // Events a few milliseconds apart: each crosses an idle path, as real notifications do.
      await new Promise((r) => setTimeout(r, 2));
    }
  }
  return crossings;
}

function reportSse(crossings: ReadonlyMap<string, number[]>, disturbed: boolean): void {
  const q = (values: number[], at: number) =>
    [...values].sort((a, b) => a - b)[Math.min(values.length - 1, Math.floor(values.length * at))]!;
  const base = median(crossings.get('direct') ?? []);
  const nginxAdded = crossings.has('nginx') ? median(crossings.get('nginx')!) - base : NaN;
  const rows = [...crossings].map(([name, values]) => {
    const m = median(values);
    const added = name === 'direct' ? NaN : m - base;
    return [
      name,
      fmt.int(m),
      fmt.int(q(values, 0.1)),
      fmt.int(q(values, 0.9)),
      Number.isNaN(added) ? '-' : fmt.int(added),
      name === 'gateway' && !Number.isNaN(nginxAdded) ? fmt.ratio(added / nginxAdded) : '',
    ];
  });
  console.log(`\nSSE crossing, µs${disturbed ? ' (DISTURBED: do not quote)' : ''}:`);
  printTable(['configuration', 'median', 'p10', 'p90', 'added median', 'added / nginx'], rows);
}
