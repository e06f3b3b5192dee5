/**
 * The servers host under load (see bench/README.md for what each figure means):
 * 1. read_query of a whole large table: answer time and peak memory, against the original
 *    server's read-everything approach.
 * 2. what the host and its query processes hold at rest after the hostile SQL corpus and that
 *    query (servers-memory.ts).
 * 3. tools/call CPU per request and throughput on /whoami and /sqlite, against the MCP SDK's
 *    plain stateless pattern, measured with wrk and /proc (REFERENCE §9).
 */
import { join } from 'node:path';
import { startAssertionSigner, BENCH_ISSUER } from './lib/assertion-keys.js';
import { ensureBigTable } from './lib/dataset.js';
import { MCP_HEADERS, callTool, expectSuccess, toolsCallBody } from './lib/mcp-call.js';
import { knob, loadKnobs } from './lib/knob.js';
import { measureRun, median, type Measured } from './lib/measure.js';
import { startServersHost, treeKib } from './lib/servers-host.js';
import { LIB_DIST, freePort, runNode, startService, type Service } from './lib/spawn.js';
import { measureSteady as steadyRun } from './lib/steady.js';
import { fmt, printTable } from './lib/table.js';
import { memoryBench } from './servers-memory.js';
import { WRK_INSTALL_HINT, hasWrk, writePostScript } from './lib/wrk.js';

const config = {
  rows: knob('BENCH_ROWS', 2_000_000),
  queryRuns: Math.max(2, knob('BENCH_QUERY_RUNS', 10)),
  originalRuns: knob('BENCH_ORIGINAL_RUNS', 1),
  ...loadKnobs(),
  logLevel: process.env.BENCH_LOG_LEVEL || 'info',
};

export async function run(): Promise<void> {
  const data = ensureBigTable(config.rows);
  if (data.created) console.log(`generated ${data.file} in ${fmt.ms(data.ms)}`);
  await readQueryBench(data.file);
  await memoryBench(data.file, config.logLevel);
  if (!hasWrk()) {
    console.log(
      `\nskipped tools/call CPU and throughput: wrk is not installed.\n  ${WRK_INSTALL_HINT}`,
    );
    return;
  }
  await throughputBench(data.file);
}

function startHost(env: Record<string, string>, port: number): Promise<Service> {
  return startServersHost(env, port, config.logLevel);
}

// ---- 1. read_query of a whole large table ----

const BIG_QUERY = 'SELECT * FROM t';

async function readQueryBench(dbFile: string): Promise<void> {
  console.log(`\n-- read_query "${BIG_QUERY}" on ${fmt.int(config.rows)} rows --`);
  const host = await startHost({ SQLITE_DB_FILE: dbFile }, await freePort());
  try {
    const before = memoryOf(host.pid);
    const times: number[] = [];
    let last;
    for (let i = 0; i < config.queryRuns; i++) {
      last = await callTool(`${host.url}/sqlite`, 'read_query', { query: BIG_QUERY });
      expectSuccess(last, 'read_query');
      times.push(last.ms);
    }
    const after = memoryOf(host.pid);
    const [first = 0, ...warm] = times;
    const content = last?.result.structuredContent ?? {};
    const returned = `${content.row_count} rows, ${content.truncated ? `cut by ${content.truncated_by}` : 'whole'}, ${fmt.int((last?.bytes ?? 0) / 1024)} KiB`;

    const originals = [];
    for (let i = 0; i < config.originalRuns; i++) {
      const out = await runNode([join(LIB_DIST, 'read-all-original.js'), dbFile, BIG_QUERY]);
      originals.push(
        JSON.parse(out) as { ms: number; rows: number; bytes: number; hwmKib: number },
      );
    }

    printTable(
      ['approach', 'answer time', 'peak RSS (VmHWM)', 'returned'],
      [
        [`ours: tools/call over HTTP, first call`, fmt.ms(first), '', ''],
        [
          `ours: the next ${warm.length} calls, median (max ${fmt.ms(Math.max(...warm))})`,
          fmt.ms(median(warm)),
          `${fmt.mib(after.total)} total`,
          returned,
        ],
        [
          '  host process (idle → after the queries)',
          '',
          `${fmt.mib(before.host)} → ${fmt.mib(after.host)}`,
          '',
        ],
        [
          `  ${after.workers.length} query processes, each (idle → after)`,
          '',
          `${fmt.mib(Math.max(...before.workers))} → ${fmt.mib(Math.max(...after.workers))}`,
          '',
        ],
        ...originals.map((o) => [
          `original: .all() + JSON cut at 10 KB (one process)`,
          fmt.ms(o.ms),
          fmt.mib(o.hwmKib),
          `${fmt.int(o.rows)} rows read, ${fmt.int(o.bytes / 1024)} KiB`,
        ]),
      ],
    );
  } finally {
    await host.stop();
  }
}

/** Peak resident memory (KiB) of a host process and each of its query processes. */
const memoryOf = (pid: number) => treeKib(pid, 'VmHWM');

// ---- 3. tools/call CPU per request and throughput ----

interface Target {
  readonly label: string;
  readonly service: Service;
}

interface Endpoint {
  readonly path: string;
  readonly tool: string;
}

const ENDPOINTS: readonly Endpoint[] = [
  { path: '/whoami', tool: 'whoami' },
  { path: '/sqlite', tool: 'list_tables' },
];

async function throughputBench(dbFile: string): Promise<void> {
  const signer = await startAssertionSigner();
  const env = {
    SQLITE_DB_FILE: dbFile,
    ASSERTION_JWKS_URL: signer.jwksUrl,
    ASSERTION_ISSUERS: BENCH_ISSUER,
  };
  const services: Service[] = [];
  try {
    const refPort = await freePort();
    const targets: Target[] = [
      { label: 'ours (host)', service: await startHost(env, await freePort()) },
      {
        label: 'SDK stateless pattern',
        service: await startService(
          'sdk-stateless',
          [join(LIB_DIST, 'sdk-stateless-server.js')],
          { ...env, PORT: String(refPort) },
          refPort,
        ),
      },
    ];
    services.push(...targets.map((t) => t.service));
    const headers = { ...MCP_HEADERS, 'x-pomerium-jwt-assertion': signer.token };
    console.log(
      `\n-- tools/call: wrk -t1 -c${config.connections} -d${config.durationS}s, ${config.rounds} interleaved rounds after ${config.warmupS}s warm-up; host LOG_LEVEL=${config.logLevel} --`,
    );
    const results = new Map<string, Measured[]>();
    for (const ep of ENDPOINTS) {
      const script = writePostScript(toolsCallBody(ep.tool), headers);
      try {
        for (const t of targets) await checkAnswers(t, ep, signer.token);
        for (const t of targets)
          await measureRun(t.service.pid, load(t, ep, script.path, config.warmupS));
        for (let round = 0; round < config.rounds; round++) {
          // A B, then B A: drift over time weighs on both sides equally.
          const order = round % 2 === 0 ? targets : [...targets].reverse();
          for (const t of order) {
            const m = await measureSteady(t, ep, script.path);
            const key = `${ep.path}|${t.label}`;
            results.set(key, [...(results.get(key) ?? []), m]);
          }
        }
        for (const t of targets) await checkAnswers(t, ep, signer.token);
      } finally {
        script.remove();
      }
    }
    report(results, targets);
  } finally {
    await Promise.all(services.map((s) => s.stop()));
    await signer.close();
  }
}

async function checkAnswers(t: Target, ep: Endpoint, token: string): Promise<void> {
  const answer = await callTool(
    `${t.service.url}${ep.path}`,
    ep.tool,
    {},
    {
      'x-pomerium-jwt-assertion': token,
    },
  );
  expectSuccess(answer, `${t.label} ${ep.path}`);
}

function load(t: Target, ep: Endpoint, script: string, durationS: number) {
  const url = `${t.service.url}${ep.path}`;
  return { url, script, threads: 1, connections: config.connections, durationS };
}

const steady = { maxOtherCores: config.maxOtherCores, retries: config.retries };
const budget = { ms: config.quietBudgetS * 1000 };

/** A measured run, repeated while other processes disturbed it (up to the retry budget). */
function measureSteady(t: Target, ep: Endpoint, script: string): Promise<Measured> {
  const run = { label: `${ep.path} ${t.label}`, pid: t.service.pid, companions: [] };
  return steadyRun(
    { ...run, load: load(t, ep, script, config.durationS) },
    steady,
    budget,
    describeRun,
  );
}

function describeRun(m: Measured): string {
  const cell = (n: number, width: number) => fmt.int(n).padStart(width);
  return [
    `${cell(m.cpuUsRoot, 5)} µs/req (+children ${cell(m.cpuUsTree, 5)})`,
    `${cell(m.wrk.rps, 6)} req/s`,
    `p50 ${fmt.ms(m.wrk.p50Ms).padStart(8)}`,
    `wrk ${m.wrkCores.toFixed(2)} cores`,
    `others ${m.otherCores.toFixed(3)} cores`,
  ].join('  ');
}

function report(results: ReadonlyMap<string, Measured[]>, targets: readonly Target[]): void {
  const rows: string[][] = [];
  for (const ep of ENDPOINTS) {
    const stats = targets.map((t) => {
      const runs = results.get(`${ep.path}|${t.label}`) ?? [];
      return {
        label: t.label,
        root: median(runs.map((m) => m.cpuUsRoot)),
        tree: median(runs.map((m) => m.cpuUsTree)),
        rps: median(runs.map((m) => m.wrk.rps)),
        p50: median(runs.map((m) => m.wrk.p50Ms)),
        disturbed: runs.filter((m) => m.otherCores > config.maxOtherCores).length,
      };
    });
    for (const s of stats) {
      rows.push([
        `${ep.path} ${ep.tool}, ${s.label}`,
        fmt.int(s.root),
        fmt.int(s.tree),
        fmt.int(s.rps),
        fmt.ms(s.p50),
        String(s.disturbed),
      ]);
    }
    const [ours, sdk] = stats;
    if (ours && sdk) {
      rows.push([
        `${ep.path} ratio ours / SDK`,
        fmt.ratio(ours.root / sdk.root),
        fmt.ratio(ours.tree / sdk.tree),
        fmt.ratio(ours.rps / sdk.rps),
        fmt.ratio(ours.p50 / sdk.p50),
        '',
      ]);
    }
  }
  console.log('\nmedians over the rounds:');
  printTable(
    [
      'endpoint / server',
      'CPU µs/req (process)',
      'CPU µs/req (+children)',
      'req/s',
      'p50',
      'disturbed runs',
    ],
    rows,
  );
}
