/**
 * nginx as the load balancer in front of gateway replicas: one `upstream` group holding every
 * replica (round robin, nginx's default; no stickiness), keep-alive to each, and the Host
 * header passed on as the client sent it, since every replica routes on the one public origin.
 * The rest as `nginx.ts`: one worker, no buffering, no access log, a temporary directory.
 */
import { nginxConf, runNginx } from './nginx.js';
import type { Service } from './spawn.js';

/** Starts nginx on 127.0.0.1:`port` (the public origin's port) over `replicaPorts`. */
export function startBalancer(
  name: string,
  port: number,
  replicaPorts: readonly number[],
): Promise<Service> {
  const upstream = `
  upstream replicas {
${replicaPorts.map((p) => `    server 127.0.0.1:${p};`).join('\n')}
    keepalive 64;
    keepalive_requests 10000000;
    # Below node's 5 s default, so nginx never reuses a connection a replica is closing.
    keepalive_timeout 4s;
  }`;
  const location = `
    location / {
      proxy_pass http://replicas;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $http_host;
      proxy_buffering off;
      proxy_read_timeout 1h;
    }`;
  return runNginx(name, port, (dir) => nginxConf(dir, port, upstream, location));
}
