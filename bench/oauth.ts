/**
 * The OAuth server for MCP clients, measured:
 * 1. the whole authorization flow as an MCP client and a browser play it over HTTP (register →
 *    authorize → sign-in → consent → token), each step timed, median of N;
 * 2. tools/call through the gateway with token validation (a Bearer route), with validation
 *    and the user's upstream token (a static `upstream_oauth2` route: decrypted from the vault
 *    and sent), and without either (a public route), same bare upstream, interleaved
 *    (REFERENCE §9): the gateway's CPU µs per request and req/s.
 *
 * Knobs: OAUTH_BENCH_FLOWS (default 10), OAUTH_BENCH_SECONDS (8), OAUTH_BENCH_ROUNDS (3).
 */
import { join } from 'node:path';
import { MCP_HEADERS, toolsCallBody } from './lib/mcp-call.js';
import { measureRun, median, waitForQuiet, type Measured } from './lib/measure.js';
import { startUpstreamProvider } from '../test/support/upstream-provider.js';
import { oneFlow, type FlowTimes } from './lib/oauth-flow.js';
import { startOAuthGateway, type OAuthGateway } from './lib/oauth-gateway.js';
import { LIB_DIST, freePort, startService } from './lib/spawn.js';
import { fmt, printTable } from './lib/table.js';
import { WRK_INSTALL_HINT, hasWrk, writePostScript } from './lib/wrk.js';

const FLOWS = Number(process.env.OAUTH_BENCH_FLOWS ?? 10);
const SECONDS = Number(process.env.OAUTH_BENCH_SECONDS ?? 8);
const ROUNDS = Number(process.env.OAUTH_BENCH_ROUNDS ?? 3);
const WARMUP_S = 2;

async function checkCall(gw: OAuthGateway, path: string, headers: Record<string, string>) {
  const res = await fetch(`${gw.origin}${path}`, {
    method: 'POST',
    headers: { ...MCP_HEADERS, ...headers },
    body: toolsCallBody('anything'),
  });
  const text = await res.text();
  if (res.status !== 200) throw new Error(`${path}: ${res.status} ${text}`);
}

export async function run(): Promise<void> {
  const upstreamPort = await freePort();
  const upstream = await startService(
    'oauth-bare-upstream',
    [join(LIB_DIST, 'bare-upstream.js')],
    { PORT: String(upstreamPort) },
    upstreamPort,
  );
  const port = await freePort();
  // The upstream provider's tokens outlive the run: no refresh is measured, only their use.
  const provider = await startUpstreamProvider({
    redirectUris: [`http://localhost:${port}/.pomerium/mcp/client/oauth/callback`],
    accessTokenTtl: 3600,
  });
  const gw = await startOAuthGateway(`http://127.0.0.1:${upstreamPort}/mcp`, port, provider);
  try {
    await oneFlow(gw, -1); // warm-up: first-use compilation, key derivation
    const flows: FlowTimes[] = [];
    for (let i = 0; i < FLOWS; i++) flows.push(await oneFlow(gw, i));
    console.log(`\nAuthorization flow over HTTP (new client, no session), median of ${FLOWS}:`);
    printTable(
      ['step', 'median', 'min', 'max'],
      (['register', 'browser', 'token', 'total'] as const).map((k) => {
        const v = flows.map((f) => f[k]);
        return [
          k === 'browser' ? 'authorize + sign-in + consent' : k,
          fmt.ms(median(v)),
          fmt.ms(Math.min(...v)),
          fmt.ms(Math.max(...v)),
        ];
      }),
    );

    if (!hasWrk()) {
      console.log(`\nwrk is missing; throughput skipped. Install: ${WRK_INSTALL_HINT}`);
      return;
    }
    const token = flows.at(-1)?.accessToken ?? '';
    const withUpstream = (await oneFlow(gw, FLOWS, '/upstream', provider)).accessToken;
    const configs = [
      { label: 'bearer (token validated)', path: '/bearer', auth: `Bearer ${token}` },
      {
        label: 'bearer + upstream token',
        path: '/upstream',
        auth: `Bearer ${withUpstream}`,
      },
      { label: 'public (no validation)', path: '/public', auth: undefined },
    ];
    const host = `localhost:${gw.port}`;
    const scripts = configs.map((c) =>
      writePostScript(toolsCallBody('anything'), {
        ...MCP_HEADERS,
        Host: host,
        ...(c.auth ? { Authorization: c.auth } : {}),
      }),
    );
    try {
      for (const c of configs) await checkCall(gw, c.path, c.auth ? { authorization: c.auth } : {});
      const load = (i: number, durationS: number) => ({
        url: `http://127.0.0.1:${gw.port}${configs[i]!.path}`,
        script: scripts[i]!.path,
        threads: 1,
        connections: 16,
        durationS,
      });
      for (let i = 0; i < configs.length; i++) await measureRun(gw.service.pid, load(i, WARMUP_S));
      const results: Measured[][] = configs.map(() => []);
      console.log(`\ntools/call through the gateway, wrk -t1 -c16 -d${SECONDS}s, A B × ${ROUNDS}:`);
      for (let round = 0; round < ROUNDS; round++) {
        for (let i = 0; i < configs.length; i++) {
          await waitForQuiet(0.3, 10_000);
          const m = await measureRun(gw.service.pid, load(i, SECONDS), [upstream.pid]);
          if (m.wrk.failures > 0) throw new Error(`${configs[i]!.label}: failures\n${m.wrk.raw}`);
          results[i]!.push(m);
          console.log(
            `  ${configs[i]!.label.padEnd(26)} ${fmt.int(m.wrk.rps)} req/s  ${m.cpuUsRoot.toFixed(1)} µs/req  others ${m.otherCores.toFixed(2)} cores`,
          );
        }
      }
      const cpu = results.map((r) => median(r.map((m) => m.cpuUsRoot)));
      const rps = results.map((r) => median(r.map((m) => m.wrk.rps)));
      const p99 = results.map((r) => median(r.map((m) => m.wrk.p99Ms)));
      console.log('\nMedians (gateway process CPU per request; upstream excluded):');
      printTable(
        ['route', 'gateway CPU µs/req', 'req/s', 'p99'],
        configs.map((c, i) => [c.label, cpu[i]!.toFixed(1), fmt.int(rps[i]!), fmt.ms(p99[i]!)]),
      );
      const [bearer, upstreamRoute, open] = cpu as [number, number, number];
      console.log(
        `bearer / public: CPU ${fmt.ratio(bearer / open)}, req/s ${fmt.ratio(rps[0]! / rps[2]!)}; token validation costs ${(bearer - open).toFixed(1)} µs/req`,
      );
      console.log(
        `bearer + upstream token / bearer: CPU ${fmt.ratio(upstreamRoute / bearer)}; the upstream token costs ${(upstreamRoute - bearer).toFixed(1)} µs/req`,
      );
    } finally {
      for (const s of scripts) s.remove();
    }
  } finally {
    await gw.stop();
    await upstream.stop();
    await provider.close();
  }
}
