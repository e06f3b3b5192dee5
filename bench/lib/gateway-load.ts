/**
 * Parts 1 and 2 of the `gateway` suite: tools/call under wrk through each configuration, CPU
 * per request of the proxy and of the upstream, interleaved rounds after a warm-up.
 */
import type { Configuration } from './gateway-configs.js';
import { budget, config, steady } from './gateway-settings.js';
import { expectToolSuccess, post } from './loopback-http.js';
import { MCP_HEADERS } from './mcp-call.js';
import { measureRun, median, type Measured } from './measure.js';
import { measureSteady } from './steady.js';
import { fmt, printTable } from './table.js';
import { writePostScript } from './wrk.js';

export async function loadPart(
  title: string,
  configs: Configuration[],
  body: string,
  /** What the gateway runs with (storage, metrics, audit), for the header. */
  setup: string,
): Promise<void> {
  console.log(
    `\n-- ${title}: wrk -t1 -c${config.connections} -d${config.durationS}s, ${config.rounds} interleaved rounds after ${config.warmupS}s warm-up; LOG_LEVEL=${config.logLevel} --`,
  );
  console.log(`   gateway: ${setup}`);
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
  const ratios = (over: Summary, kinds: ReadonlyArray<Summary['kind']>) => {
    for (const s of stats.filter((x) => kinds.includes(x.kind))) {
      rows.push([
        `ratio ${s.label} / ${over.label}`,
        fmt.ratio(s.proxy / over.proxy),
        '',
        fmt.ratio(s.rps / over.rps),
        fmt.ratio(s.p50 / over.p50),
        fmt.ratio(added(s) / added(over)),
        '',
      ]);
    }
  };
  if (nginx) ratios(nginx, ['gateway', 'node', 'reference']);
  // The targets are against the bare node:http proxy measured in the same run.
  const floor = stats.find((s) => s.kind === 'node');
  if (floor) ratios(floor, ['reference', 'gateway']);
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
