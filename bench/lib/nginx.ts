/**
 * nginx as the reference reverse proxy (REFERENCE §9): one worker, a keep-alive upstream pool,
 * no response buffering, `keepalive_requests` raised on both sides so no connection is
 * re-opened mid-run, no access log. Everything it writes lives in a temporary directory.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, startCommand, type Service } from './spawn.js';

export const NGINX = '/usr/sbin/nginx';

export function hasNginx(): boolean {
  return existsSync(NGINX) && spawnSync(NGINX, ['-v'], { stdio: 'ignore' }).status === 0;
}

/**
 * The temp-path directives this build knows: a module left out at build time (nginx-light
 * variants differ) makes its directive an error, and one left unset makes nginx create the
 * build's default directory under /var/lib.
 */
function tempPathDirectives(dir: string): string[] {
  const built = spawnSync(NGINX, ['-V'], { encoding: 'utf8' }).stderr ?? '';
  const out = [`client_body_temp_path ${join(dir, 'body')};`];
  for (const module of ['proxy', 'fastcgi', 'uwsgi', 'scgi']) {
    if (module === 'proxy' || built.includes(`--http-${module}-temp-path`)) {
      out.push(`${module}_temp_path ${join(dir, module)};`);
    }
  }
  return out;
}

export interface NginxLocation {
  /** Request path prefix (`location`), e.g. `/mcp`. */
  readonly path: string;
  readonly upstreamPort: number;
}

/**
 * Starts nginx on a free 127.0.0.1 port, proxying each location to its upstream with
 * `Host: 127.0.0.1:<upstream port>` (servers check Host against DNS rebinding).
 */
export async function startNginx(
  name: string,
  locations: readonly NginxLocation[],
): Promise<Service> {
  const port = await freePort();
  const upstreams = locations.map(
    (l, i) => `
  upstream backend${i} {
    server 127.0.0.1:${l.upstreamPort};
    keepalive 64;
    keepalive_requests 10000000;
    # Below node's 5 s default, so nginx never reuses a connection the upstream is closing.
    keepalive_timeout 4s;
  }`,
  );
  const servers = locations.map(
    (l, i) => `
    location ${l.path} {
      proxy_pass http://backend${i};
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host 127.0.0.1:${l.upstreamPort};
      proxy_buffering off;
      proxy_read_timeout 1h;
    }`,
  );
  return runNginx(name, port, (dir) =>
    nginxConf(dir, port, upstreams.join('\n'), servers.join('\n')),
  );
}

/**
 * The whole configuration: one worker in the foreground, no access log, every temp path in
 * `dir`, keep-alive raised towards clients; `upstreams` and `locations` fill it in.
 */
export function nginxConf(dir: string, port: number, upstreams: string, locations: string) {
  return `
worker_processes 1;
daemon off;
master_process on;
pid ${join(dir, 'nginx.pid')};
error_log stderr warn;
events { worker_connections 1024; }
http {
  access_log off;
  ${tempPathDirectives(dir).join('\n  ')}
  keepalive_requests 10000000;
  keepalive_timeout 65s;
${upstreams}
  server {
    listen 127.0.0.1:${port};
${locations}
  }
}
`;
}

/**
 * Runs nginx with the configuration `conf(dir)` builds for its temporary directory `dir`
 * (`nginxConf`), resolved once 127.0.0.1:`port` accepts connections.
 */
export async function runNginx(
  name: string,
  port: number,
  conf: (dir: string) => string,
): Promise<Service> {
  const dir = mkdtempSync(join(tmpdir(), 'portcullis-bench-nginx-'));
  // Started as root, nginx's worker runs as an unprivileged user and needs the temp paths.
  chmodSync(dir, 0o755);
  writeFileSync(join(dir, 'nginx.conf'), conf(dir));
  let service: Service;
  try {
    service = await startCommand(
      name,
      NGINX,
      ['-p', dir, '-c', join(dir, 'nginx.conf'), '-e', 'stderr'],
      {},
      port,
    );
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  return {
    ...service,
    async stop(graceMs?: number) {
      await service.stop(graceMs);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
