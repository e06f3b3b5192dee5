/** The `gateway` suite's knobs (bench/README.md), read once and shared by its parts. */
import { knob, loadKnobs } from './knob.js';
import type { QuietBudget, SteadySettings } from './steady.js';

function words(raw: string | undefined): string[] {
  return (raw ?? '').split(' ').filter(Boolean);
}

export const config = {
  ...loadKnobs(),
  sseEvents: Math.max(1, knob('BENCH_SSE_EVENTS', 500)),
  /** Open SSE streams held at once in part 4. */
  sseStreams: Math.max(1, knob('BENCH_SSE_STREAMS', 1000)),
  logLevel: process.env.BENCH_LOG_LEVEL || 'info',
  /**
   * `production` (default): SQLite storage in a temporary file and metrics on, as a deployment
   * runs; `lean`: memory storage and no metrics listener, the bench's setup before issue 13.
   */
  defaults: (process.env.BENCH_GATEWAY_DEFAULTS || 'production') as 'production' | 'lean',
  /** Write a V8 CPU profile of the gateway into .bench/profiles when it stops. */
  profile: process.env.BENCH_GATEWAY_PROFILE === '1',
  /**
   * Another checkout, built (`npm ci && npm run build` there): its gateway runs beside this one,
   * interleaved in the same rounds, so a change's cost is a ratio measured in one run.
   */
  baseline: process.env.BENCH_BASELINE_ROOT || undefined,
  /** Node options of the gateway, e.g. `--max-semi-space-size=4` (space-separated). */
  nodeOptions: words(process.env.BENCH_GATEWAY_NODE_OPTIONS),
  /**
   * Node options of the baseline's gateway: with `BENCH_BASELINE_ROOT` this checkout, a V8
   * flag's cost measured in one run.
   */
  baselineNodeOptions: words(process.env.BENCH_BASELINE_NODE_OPTIONS),
  /** Which parts to run, e.g. `1,3` (default all): a profile of one part only. */
  parts: new Set((process.env.BENCH_GATEWAY_PARTS || '1,2,3,4').split(',').map((p) => p.trim())),
  /**
   * The gateway configurations of part 1 to run, by a word of their label (`public`, `signed-in`,
   * `bearer`; space-separated, default all): a profile of one configuration only. The references
   * (direct, nginx, the bare node proxy) always run.
   */
  gatewayConfigs: words(process.env.BENCH_GATEWAY_CONFIGS),
};

if (config.defaults !== 'production' && config.defaults !== 'lean') {
  throw new Error(`BENCH_GATEWAY_DEFAULTS: expected production or lean, got ${config.defaults}`);
}

export const steady: SteadySettings = {
  maxOtherCores: config.maxOtherCores,
  retries: config.retries,
};
export const budget: QuietBudget = { ms: config.quietBudgetS * 1000 };
