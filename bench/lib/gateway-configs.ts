/**
 * The `gateway` suite's processes and the ways of reaching an upstream through them: each
 * configuration names the process whose CPU per request is its figure.
 */
import type { GatewayProcess } from './gateway-process.js';
import type { Target } from './loopback-http.js';
import type { Service } from './spawn.js';

export interface Processes {
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
  /** A bare proxy on node:http and undici, the gateway's own stack: what it costs at least. */
  readonly undiciFloor: Service;
  /** A TCP relay in node, no HTTP at all: the SSE crossing's floor in this runtime. */
  readonly relay: Service;
}

/** One way of reaching the upstream, and the process whose CPU per request is its figure. */
export interface Configuration {
  readonly label: string;
  /** `node`: the bare node:http proxy, the targets' measure; `reference`: another floor. */
  readonly kind: 'direct' | 'nginx' | 'node' | 'reference' | 'gateway';
  readonly target: Target;
  readonly pid: number;
  /** The upstream's pid when `pid` is a proxy in front of it. */
  readonly companions: readonly number[];
  readonly headers: Record<string, string>;
}

/** What part 1's authenticated configurations send, obtained once before the load. */
export interface Credentials {
  /** `Cookie:` of a signed-in session on the gateway. */
  readonly cookie: string;
  /** An OAuth access token from the gateway's own OAuth server, for the policy route. */
  readonly bearer: string;
  /** The same two for the baseline's gateway, when there is one. */
  readonly baseline?: { readonly cookie: string; readonly bearer: string };
}

/** The rules of the policy route: three allow rules (email, domain, group) and a denied tool. */
export const BENCH_POLICY = [
  '{ allow: { or: [{ email: { is: someone-else@example.com } }] } }',
  '{ allow: { or: [{ domain: { is: example.org } }] } }',
  '{ allow: { or: [{ groups: { has: bench } }] } }',
  '{ deny: { or: [{ mcp_tool: { is: drop_everything } }] } }',
];

export const POLICY_PATH = '/policy/mcp';

export function bareConfigurations(p: Processes, creds: Credentials): Configuration[] {
  const up = p.upstream.pid;
  const base = p.baseline;
  const gatewayOnes = (gw: GatewayProcess, who: string, c: { cookie: string; bearer: string }) => [
    gateway(`${who}, public route`, gw, '/mcp', up, {}),
    gateway(`${who}, signed-in + assertion`, gw, '/auth/mcp', up, { Cookie: c.cookie }),
    gateway(`${who}, bearer + policy + identity`, gw, POLICY_PATH, up, {
      Authorization: `Bearer ${c.bearer}`,
    }),
  ];
  return [
    direct('direct', p.upstreamPort, '/mcp', up),
    ...(p.nginx ? [viaNginx('nginx', p, '/mcp', up)] : []),
    floorProxy(p, up),
    undiciProxy(p, up),
    ...gatewayOnes(p.gateway, 'gateway', creds),
    ...(base && creds.baseline ? gatewayOnes(base, 'baseline', creds.baseline) : []),
  ];
}

export function sqliteConfigurations(p: Processes): Configuration[] {
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

function undiciProxy(p: Processes, upstream: number): Configuration {
  const port = Number(new URL(p.undiciFloor.url).port);
  const target = { port, path: '/mcp', host: `127.0.0.1:${port}` };
  const label = 'bare undici proxy';
  return {
    label,
    kind: 'reference',
    target,
    pid: p.undiciFloor.pid,
    companions: [upstream],
    headers: {},
  };
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
