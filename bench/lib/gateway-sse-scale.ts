/**
 * Part 4 of the `gateway` suite: many SSE streams held open at once through the gateway (GETs
 * on its public MCP route to the bare upstream, which keeps each open), and the gateway's
 * resident memory (VmRSS) before, with them open, once an event crossed each, and after.
 */
import type { Processes } from './gateway-configs.js';
import { config } from './gateway-settings.js';
import { openTimedStream, post, type TimedStream } from './loopback-http.js';
import { MCP_HEADERS } from './mcp-call.js';
import { statusKib } from './proc.js';
import { fmt, printTable } from './table.js';

/** The target for the gateway's RSS with 1,000 streams open. */
const TARGET_MIB = 150;
/** Streams opened at once: a burst of thousands would only measure the accept queue. */
const OPEN_BATCH = 50;

export async function sseScalePart(
  p: Processes,
  /** The gateway's VmRSS once it was ready, before any load. */
  startKib: number | undefined,
): Promise<void> {
  const n = config.sseStreams;
  console.log(
    `\n-- 4. SSE at scale: ${n} concurrent streams open through the gateway (public route), its VmRSS --`,
  );
  const pid = p.gateway.service.pid;
  const rss = () => statusKib(pid, 'VmRSS');
  const rows: string[][] = [];
  const row = (state: string, kib: number | undefined, base?: number) =>
    rows.push([
      state,
      fmt.mib(kib),
      kib === undefined || base === undefined ? '' : `${fmt.int((kib - base) / n)} KiB`,
    ]);
  const before = rss();
  row('at start (ready, before any load)', startKib);
  row('before (after the other parts)', before);
  const streams: TimedStream[] = [];
  try {
    const started = performance.now();
    for (let i = 0; i < n; i += OPEN_BATCH) {
      const batch = Array.from({ length: Math.min(OPEN_BATCH, n - i) }, (_, k) => i + k);
      const openOne = (k: number) =>
        openTimedStream(
          { port: p.gateway.port, path: `/mcp?stream=scale-${k}`, host: p.gateway.host },
          MCP_HEADERS,
        );
      streams.push(...(await Promise.all(batch.map(openOne))));
    }
    const openMs = performance.now() - started;
    await new Promise((r) => setTimeout(r, 1000));
    const open = rss();
    row(`${n} open (opened in ${fmt.ms(openMs)}, 1 s settled)`, open, before);
    await emitToEach(p, streams);
    const flowed = rss();
    row(`${n} open, an event crossed each`, flowed, before);
    const peak = Math.max(open ?? 0, flowed ?? 0);
    printTable(['state', 'gateway VmRSS', 'per stream'], rows);
    console.log(
      `with ${n} streams open: ${fmt.mib(peak)} against the ${TARGET_MIB} MiB target (${peak / 1024 <= TARGET_MIB ? 'met' : 'missed'})`,
    );
  } finally {
    for (const s of streams) s.close();
  }
  await new Promise((r) => setTimeout(r, 1000));
  console.log(`after closing them (1 s): ${fmt.mib(rss())}`);
}

/** One event per stream, written by the upstream; every one must reach its reader. */
async function emitToEach(p: Processes, streams: readonly TimedStream[]): Promise<void> {
  const control = { port: p.upstreamPort, host: `127.0.0.1:${p.upstreamPort}` };
  for (const k of streams.keys()) {
    const emitted = await post({ ...control, path: `/emit?stream=scale-${k}` }, {}, '');
    // 404: the upstream does not hold this stream, so the gateway did not open it upstream.
    if (emitted.status !== 204) throw new Error(`emit on stream ${k}: HTTP ${emitted.status}`);
  }
  // Each stream must carry its event end to end (`next` fails after 10 s without one).
  await Promise.all(streams.map((s) => s.next(10_000)));
}
