/**
 * One measured load run: the server process's CPU per request (alone and with its children),
 * and how much CPU everything else on the machine used meanwhile (REFERENCE §9).
 */
import { TICKS_PER_SECOND, systemBusyTicks, treeSnapshot, treeUsage } from './proc.js';
import { runWrk, type WrkOptions, type WrkResult } from './wrk.js';

export interface Measured {
  readonly wrk: WrkResult;
  /** CPU µs per request of the server process alone (all its threads). */
  readonly cpuUsRoot: number;
  /** CPU µs per request of the server process and every process it spawned. */
  readonly cpuUsTree: number;
  /** Average cores used by the load generator. */
  readonly wrkCores: number;
  /** Average cores used by processes other than the server tree, wrk and the bench. */
  readonly otherCores: number;
  /** CPU µs per request of each companion's tree (e.g. the upstream behind a proxy). */
  readonly companionUs: readonly number[];
}

/**
 * How long to wait after the load before reading the tree. When wrk stops, the requests in
 * flight are cancelled and a server may kill the query process running one; the kill and the
 * reaping must be over before reading, or that process's time is missing from both places.
 */
const SETTLE_MS = 300;

/**
 * `companions`: other processes taking part in serving the load (the upstream behind a proxy);
 * their trees are measured too and not counted as "others".
 */
export async function measureRun(
  serverPid: number,
  load: WrkOptions,
  companions: readonly number[] = [],
): Promise<Measured> {
  const bench0 = process.cpuUsage();
  const busy0 = systemBusyTicks();
  const server0 = treeSnapshot(serverPid);
  const companions0 = companions.map((pid) => treeSnapshot(pid));
  const started = process.hrtime.bigint();
  const wrk = await runWrk(load);
  await new Promise((r) => setTimeout(r, SETTLE_MS));
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const server = treeUsage(server0, treeSnapshot(serverPid));
  const companion = companions.map((pid, i) => treeUsage(companions0[i]!, treeSnapshot(pid)));
  const busy1 = systemBusyTicks();
  const bench = process.cpuUsage(bench0);

  const usPerTick = 1e6 / TICKS_PER_SECOND;
  const requests = Math.max(1, wrk.requests);
  const benchTicks = (bench.user + bench.system) / usPerTick;
  // Replacements started after the load ended are the server's too, though not per request.
  const companionTicks = companion.reduce((sum, c) => sum + c.tree + c.newcomers, 0);
  const ours = server.tree + server.newcomers + companionTicks + wrk.wrkTicks + benchTicks;
  return {
    wrk,
    cpuUsRoot: (server.root * usPerTick) / requests,
    cpuUsTree: (server.tree * usPerTick) / requests,
    wrkCores: wrk.wrkTicks / TICKS_PER_SECOND / seconds,
    otherCores: Math.max(0, busy1 - busy0 - ours) / TICKS_PER_SECOND / seconds,
    companionUs: companion.map((c) => (c.tree * usPerTick) / requests),
  };
}

/**
 * Waits until the machine is quiet (the bench's own processes idle, so all busy CPU belongs to
 * others) for one 500 ms sample, or until `maxWaitMs` passed. Returns the time waited.
 */
export async function waitForQuiet(maxCores: number, maxWaitMs: number): Promise<number> {
  const started = Date.now();
  for (;;) {
    const busy0 = systemBusyTicks();
    await new Promise((r) => setTimeout(r, 500));
    const cores = (systemBusyTicks() - busy0) / TICKS_PER_SECOND / 0.5;
    if (cores <= maxCores || Date.now() - started >= maxWaitMs) return Date.now() - started;
  }
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}
