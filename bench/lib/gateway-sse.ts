/**
 * Part 3 of the `gateway` suite: the SSE crossing time, an event written by the upstream until
 * the client has it, directly, through nginx, a TCP relay in node ("relay"), the bare
 * node:http proxy ("node"), the bare undici proxy ("undici") and the gateway, events
 * interleaved.
 */
import type { Processes } from './gateway-configs.js';
import { budget, config } from './gateway-settings.js';
import { openTimedStream, post } from './loopback-http.js';
import { MCP_HEADERS } from './mcp-call.js';
import { median, waitForQuiet } from './measure.js';
import { TICKS_PER_SECOND, systemBusyTicks, treeSnapshot, treeUsage } from './proc.js';
import { fmt, printTable } from './table.js';

export async function ssePart(p: Processes): Promise<void> {
  const warmup = 20;
  console.log(
    `\n-- 3. SSE crossing time: upstream write → client read, ${config.sseEvents} events per configuration, interleaved, after ${warmup} unmeasured --`,
  );
  const streamOf = (name: string, port: number, host: string, path = '/mcp') => ({
    name,
    target: { port, path: `${path}?stream=${name}`, host },
  });
  // The bare proxies and the TCP relay too: what any node proxy adds per event, and what a
  // relay adds in node with no HTTP at all, the gateway's floors.
  const local = (name: string, s: { url: string }) => {
    const port = Number(new URL(s.url).port);
    return streamOf(name, port, `127.0.0.1:${port}`);
  };
  const wanted = [
    streamOf('direct', p.upstreamPort, `127.0.0.1:${p.upstreamPort}`),
    ...(p.nginx ? [streamOf('nginx', p.nginxPort, `127.0.0.1:${p.nginxPort}`)] : []),
    local('relay', p.relay),
    local('node', p.floor),
    local('undici', p.undiciFloor),
    streamOf('gateway', p.gateway.port, p.gateway.host),
  ];
  const streams = await Promise.all(
    wanted.map(async (w) => ({ ...w, stream: await openTimedStream(w.target, MCP_HEADERS) })),
  );
  const pids = [
    p.upstream.pid,
    p.gateway.service.pid,
    p.floor.pid,
    p.undiciFloor.pid,
    p.relay.pid,
    ...(p.nginx ? [p.nginx.pid] : []),
  ];
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

/** A proxy's added crossing over a reference's, for the proxies after the reference. */
function relative(name: string, added: number, over: number, reference: string): string {
  const compared = name !== 'direct' && name !== reference && name !== 'nginx';
  return compared && !Number.isNaN(over) ? fmt.ratio(added / over) : '';
}

function reportSse(crossings: ReadonlyMap<string, number[]>, disturbed: boolean): void {
  const q = (values: number[], at: number) =>
    [...values].sort((a, b) => a - b)[Math.min(values.length - 1, Math.floor(values.length * at))]!;
  const base = median(crossings.get('direct') ?? []);
  const addedBy = (name: string) =>
    crossings.has(name) ? median(crossings.get(name)!) - base : NaN;
  const nginxAdded = addedBy('nginx');
  const nodeAdded = addedBy('node');
  const rows = [...crossings].map(([name, values]) => {
    const m = median(values);
    const added = name === 'direct' ? NaN : m - base;
    return [
      name,
      fmt.int(m),
      fmt.int(q(values, 0.1)),
      fmt.int(q(values, 0.9)),
      Number.isNaN(added) ? '-' : fmt.int(added),
      relative(name, added, nginxAdded, 'nginx'),
      relative(name, added, nodeAdded, 'node'),
    ];
  });
  console.log(`\nSSE crossing, µs${disturbed ? ' (DISTURBED: do not quote)' : ''}:`);
  const head = ['configuration', 'median', 'p10', 'p90', 'added median', 'added / nginx'];
  printTable([...head, 'added / node'], rows);
}
