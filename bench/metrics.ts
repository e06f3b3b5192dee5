/**
 * The metrics observer's cost per request, in process: `requestDone` and `decision` (what every
 * proxied request reports) called on the gateway's observer (`createMetrics`), on the same
 * per-request calls made straight on prom-client's Counter and Histogram children (what the
 * observer cost when prom-client counted), on a no-op observer (the loop itself), and on
 * `BENCH_BASELINE_ROOT`'s observer when that checkout is built. Interleaved rounds in one process
 * (A B C, then C B A), each configuration warmed up first; the figures are wall-clock ns per
 * request, medians over the rounds, and the ratio to the gateway's observer. A scrape of each
 * registry after the rounds is timed too.
 */
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Counter, Histogram, Registry } from 'prom-client';
import { createMetrics, type Metrics } from '../src/observe/metrics.js';
import type { Observer, RequestDone } from '../src/observe/observer.js';
import { knob } from './lib/knob.js';
import { median } from './lib/measure.js';
import { fmt, printTable } from './lib/table.js';

const CALLS = Math.max(1, knob('BENCH_METRICS_CALLS', 200_000));
const ROUNDS = Math.max(1, knob('BENCH_ROUNDS', 5));
const ROUTES = ['tools', 'DB', 'public'];

interface Config {
  readonly name: string;
  readonly observer: Observer;
  readonly registry?: Registry;
}

/** Requests as the pipeline reports them: a few routes, methods, statuses and durations. */
function requests(): RequestDone[] {
  const methods = ['tools/call', 'tools/list', 'initialize', null];
  return Array.from({ length: 256 }, (_, i) => ({
    requestId: `req-${i}`,
    route: ROUTES[i % ROUTES.length] as string,
    mcpMethod: methods[i % methods.length] as string | null,
    tool: null,
    status: i % 17 === 0 ? 403 : 200,
    startedAt: i,
    durationMs: 0.2 + ((i * 7919) % 4000) / 1000,
  }));
}

/** ns per request of `calls` requestDone + decision on `observer`. */
function timed(observer: Observer, done: readonly RequestDone[], calls: number): number {
  const started = process.hrtime.bigint();
  for (let i = 0; i < calls; i++) {
    const d = done[i & 255] as RequestDone;
    observer.decision({ route: d.route, allow: d.status !== 403, rule: 'policy[0]' });
    observer.requestDone(d);
  }
  return Number(process.hrtime.bigint() - started) / calls;
}

/** The same counting done on prom-client's children, made once per label set. */
function promClientObserver(): Config {
  const registry = new Registry();
  const registers = [registry];
  const requests = new Counter({
    name: 'requests_total',
    help: 'h',
    labelNames: ['route', 'status', 'mcp_method'],
    registers,
  });
  const duration = new Histogram({
    name: 'request_duration_seconds',
    help: 'h',
    labelNames: ['route', 'mcp_method'],
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers,
  });
  const decisions = new Counter({
    name: 'decisions_total',
    help: 'h',
    labelNames: ['route', 'outcome'],
    registers,
  });
  const kids = new Map<string, { inc(): void; observe(v: number): void }>();
  const child = (key: string, make: () => { inc?(): void; observe?(v: number): void }) => {
    let c = kids.get(key);
    if (c === undefined) kids.set(key, (c = make() as { inc(): void; observe(v: number): void }));
    return c;
  };
  const noop = () => undefined;
  const observer: Observer = {
    requestDone(d) {
      const method = d.mcpMethod ?? 'none';
      const status = String(d.status);
      child(`r${d.route}${status}${method}`, () => requests.labels(d.route, status, method)).inc();
      child(`d${d.route}${method}`, () => duration.labels(d.route, method)).observe(
        d.durationMs / 1000,
      );
    },
    decision(m) {
      const outcome = m.allow ? 'allow' : 'deny';
      child(`p${m.route}${outcome}`, () => decisions.labels(m.route, outcome)).inc();
    },
    tokenValidation: noop,
    tokenRefresh: noop,
    upstreamError: noop,
    storageLatency: noop,
  };
  return { name: "prom-client's children", observer, registry };
}

function noopObserver(): Config {
  const noop = () => undefined;
  const observer: Observer = {
    requestDone: noop,
    decision: noop,
    tokenValidation: noop,
    tokenRefresh: noop,
    upstreamError: noop,
    storageLatency: noop,
  };
  return { name: 'no-op observer (the loop)', observer };
}

async function baselineObserver(): Promise<Config | undefined> {
  const root = process.env.BENCH_BASELINE_ROOT;
  if (!root) return undefined;
  const url = pathToFileURL(join(root, 'dist/src/observe/metrics.js')).href;
  const { createMetrics: baseline } = (await import(url)) as {
    createMetrics: typeof createMetrics;
  };
  const { observer, registry }: Metrics = baseline(ROUTES);
  return { name: `baseline (${root})`, observer, registry };
}

export async function run(): Promise<void> {
  const gateway = createMetrics(ROUTES);
  const baseline = await baselineObserver();
  const configs: Config[] = [
    { name: "gateway's observer", ...gateway },
    ...(baseline ? [baseline] : []),
    promClientObserver(),
    noopObserver(),
  ];
  console.log(
    `\n-- metrics observer: requestDone + decision per request, ${CALLS} requests a run, ${ROUNDS} interleaved rounds, one process --`,
  );
  const done = requests();
  for (const c of configs) timed(c.observer, done, CALLS);
  const ns = new Map<Config, number[]>(configs.map((c) => [c, []]));
  for (let round = 0; round < ROUNDS; round++) {
    const order = round % 2 === 0 ? configs : [...configs].reverse();
    for (const c of order) ns.get(c)?.push(timed(c.observer, done, CALLS));
  }
  const ours = median(ns.get(configs[0] as Config) ?? []);
  const rows = [];
  for (const c of configs) {
    const perRequest = median(ns.get(c) ?? []);
    const scrape = c.registry ? await scrapeMs(c.registry) : undefined;
    rows.push([
      c.name,
      perRequest.toFixed(0),
      fmt.ratio(perRequest / ours),
      scrape === undefined ? '' : fmt.ms(scrape),
    ]);
  }
  printTable(['observer', 'ns/request', '× gateway', 'scrape'], rows);
}

/** The median time of a few scrapes of `registry`. */
async function scrapeMs(registry: Registry): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < 5; i++) {
    const started = performance.now();
    await registry.metrics();
    times.push(performance.now() - started);
  }
  return median(times);
}
