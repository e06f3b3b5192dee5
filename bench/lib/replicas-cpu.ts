/**
 * Part 2 of the replicas bench: tools/call with an OAuth bearer token through nginx (round
 * robin over a configuration's replicas) to the bare upstream. The figure is the CPU of every
 * gateway process of the configuration, summed, per request; nginx, the upstream and
 * PostgreSQL (the postmaster and its backends) are measured alongside and shown apart.
 * Configurations are interleaved, A B C then C B A, and disturbed runs repeated (`steady.ts`).
 */
import { loadKnobs } from './knob.js';
import { expectToolSuccess, post } from './loopback-http.js';
import { measureRun, median, type Measured } from './measure.js';
import { MCP_HEADERS, toolsCallBody } from './mcp-call.js';
import type { Cluster } from './replicas-cluster.js';
import { issueToken, signedInClient } from './replicas-tokens.js';
import { measureSteady, type QuietBudget, type SteadySettings } from './steady.js';
import { fmt, printTable } from './table.js';
import { writePostScript, type PostScript, type WrkOptions } from './wrk.js';

const config = loadKnobs();

/** A configuration ready for load: its token, its wrk script, its measured processes. */
interface Loaded {
  readonly cluster: Cluster;
  readonly headers: Record<string, string>;
  readonly script: PostScript;
  /** The replicas' pids first, then the upstream's and PostgreSQL's. */
  readonly companions: readonly number[];
}

interface Figures {
  readonly gateways: number;
  readonly perReplica: readonly number[];
  readonly nginx: number;
  readonly upstream: number;
  readonly postgres: number;
}

function figures(l: Loaded, m: Measured): Figures {
  const n = l.cluster.replicas.length;
  const perReplica = m.companionUs.slice(0, n);
  return {
    gateways: perReplica.reduce((a, b) => a + b, 0),
    perReplica,
    nginx: m.cpuUsTree,
    upstream: m.companionUs[n] ?? NaN,
    postgres: m.companionUs[n + 1] ?? NaN,
  };
}

async function prepare(cluster: Cluster, others: readonly number[]): Promise<Loaded> {
  const gate = { port: cluster.ports[0]!, host: cluster.host };
  const client = await signedInClient(gate, cluster.email, cluster.password);
  const token = await issueToken(gate, client);
  const headers = { ...MCP_HEADERS, authorization: `Bearer ${token}` };
  // wrk sets Host itself only when the script has not (its key is case-sensitive: `Host`).
  const script = writePostScript(toolsCallBody('anything'), { ...headers, Host: cluster.host });
  const companions = [...cluster.replicas.map((r) => r.pid), ...others];
  return { cluster, headers, script, companions };
}

/** Through the balancer, once per replica and then some: a successful tool result each time. */
async function check(l: Loaded): Promise<void> {
  const target = {
    port: Number(new URL(l.cluster.origin).port),
    host: l.cluster.host,
    path: '/mcp',
  };
  for (let i = 0; i < 2 * l.cluster.replicas.length; i++) {
    const answer = await post(target, l.headers, toolsCallBody('anything'));
    expectToolSuccess(answer, `${l.cluster.label} through nginx`);
  }
}

function load(l: Loaded, durationS: number): WrkOptions {
  return {
    url: `${l.cluster.balancer!.url}/mcp`,
    script: l.script.path,
    threads: 1,
    connections: config.connections,
    durationS,
  };
}

function describeRun(l: Loaded, m: Measured): string {
  const f = figures(l, m);
  const split = f.perReplica.length > 1 ? ` (${f.perReplica.map(fmt.int).join(' + ')})` : '';
  return [
    `gateways ${fmt.int(f.gateways).padStart(4)} µs/req${split}`,
    `nginx ${fmt.int(f.nginx)}`,
    `postgres ${fmt.int(f.postgres)}`,
    `${fmt.int(m.wrk.rps).padStart(6)} req/s`,
    `others ${m.otherCores.toFixed(3)} cores`,
  ].join('  ');
}

export interface CpuSettings extends SteadySettings {
  readonly budget: QuietBudget;
  /** The upstream's and PostgreSQL's pids, measured with every configuration. */
  readonly others: readonly number[];
}

/** Runs the interleaved rounds and prints the medians; the first cluster is the baseline. */
export async function measureReplicaCpu(clusters: readonly Cluster[], s: CpuSettings) {
  const loaded: Loaded[] = [];
  try {
    for (const c of clusters) loaded.push(await prepare(c, s.others));
    for (const l of loaded) await check(l);
    for (const l of loaded)
      await measureRun(l.cluster.balancer!.pid, load(l, config.warmupS), l.companions);
    console.log(
      `\ntools/call through nginx, wrk -t1 -c${config.connections} -d${config.durationS}s, ${config.rounds} rounds:`,
    );
    const runs = new Map<Loaded, Measured[]>(loaded.map((l) => [l, []]));
    for (let round = 0; round < config.rounds; round++) {
      const order = round % 2 === 0 ? [...loaded] : [...loaded].reverse();
      for (const l of order) {
        const run = {
          label: l.cluster.label,
          pid: l.cluster.balancer!.pid,
          companions: l.companions,
        };
        const m = await measureSteady(
          { ...run, load: load(l, config.durationS) },
          s,
          s.budget,
          (x) => describeRun(l, x),
        );
        runs.get(l)!.push(m);
      }
    }
    for (const l of loaded) await check(l);
    report(runs, s.maxOtherCores);
  } finally {
    for (const l of loaded) l.script.remove();
  }
}

function report(runs: ReadonlyMap<Loaded, Measured[]>, maxOtherCores: number): void {
  const rows = [...runs].map(([l, ms]) => {
    const f = ms.map((m) => figures(l, m));
    const med = (pick: (x: Figures) => number) => median(f.map(pick));
    return {
      label: l.cluster.label,
      gateways: med((x) => x.gateways),
      nginx: med((x) => x.nginx),
      postgres: med((x) => x.postgres),
      rps: median(ms.map((m) => m.wrk.rps)),
      p50: median(ms.map((m) => m.wrk.p50Ms)),
      disturbed: ms.filter((m) => m.otherCores > maxOtherCores).length,
    };
  });
  const base = rows[0]!;
  console.log('\nmedians over the rounds (CPU µs per request):');
  printTable(
    [
      'configuration',
      'gateways (sum)',
      'nginx',
      'postgres',
      'req/s',
      'p50',
      'disturbed runs',
      'gateways / SQLite',
    ],
    rows.map((r) => [
      r.label,
      fmt.int(r.gateways),
      fmt.int(r.nginx),
      fmt.int(r.postgres),
      fmt.int(r.rps),
      fmt.ms(r.p50),
      String(r.disturbed),
      fmt.ratio(r.gateways / base.gateways),
    ]),
  );
}
