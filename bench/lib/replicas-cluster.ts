/**
 * A configuration of the replicas bench: N gateway processes (the shipped CLI, `gateway
 * --config FILE`) on one storage, configured as a deployment behind a load balancer would be:
 * the same `shared_secret`, `cookie_secret` and `signing_key`, one public origin
 * (`http://localhost:<balancer port>`), each replica on a loopback port of its own, and nginx
 * as the round-robin balancer on the public port.
 */
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { hashPassword } from '../../src/core/crypto.js';
import { startBalancer } from './replicas-nginx.js';
import { CACHE_DIR, ROOT, freePort, startService, type Service } from './spawn.js';

export type Storage =
  { readonly type: 'sqlite' } | { readonly type: 'postgres'; readonly connectionString: string };

export interface Cluster {
  readonly label: string;
  /** Every replica routes on this one: `localhost:<balancer port>`. */
  readonly host: string;
  readonly origin: string;
  /** nginx on the public port, unless started without (no nginx installed). */
  readonly balancer: Service | undefined;
  readonly replicas: readonly Service[];
  /** The replicas' loopback ports, in the order of `replicas`. */
  readonly ports: readonly number[];
  readonly email: string;
  readonly password: string;
  stop(): Promise<void>;
}

export interface ClusterOptions {
  /** Names the processes' log files in `.bench/` too. */
  readonly name: string;
  readonly label: string;
  readonly count: number;
  readonly storage: Storage;
  /** The bare upstream's MCP endpoint. */
  readonly upstream: string;
  readonly logLevel: string;
  /** Whether to start nginx in front. */
  readonly balanced: boolean;
}

const EMAIL = 'bench@example.com';

/** What every replica of one configuration shares: secrets, key, the user, the route. */
function sharedYaml(origin: string, upstream: string, storage: string, hash: string): string[] {
  const secret = () => randomBytes(32).toString('base64');
  const key = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
  const pem = key.export({ type: 'pkcs8', format: 'pem' }).toString();
  return [
    'insecure_server: true',
    `shared_secret: ${secret()}`,
    `cookie_secret: ${secret()}`,
    `signing_key: ${Buffer.from(pem).toString('base64')}`,
    storage,
    'idp_provider: builtin',
    'builtin_users:',
    `  - { email: ${EMAIL}, name: Bench, groups: [bench], password_hash: '${hash}' }`,
    'routes:',
    `  - from: ${origin}`,
    '    path: /mcp',
    `    to: ${upstream}`,
    '    allow_any_authenticated_user: true',
    '    mcp: { server: {} }',
  ];
}

function storageYaml(storage: Storage, dir: string): string {
  const conn = storage.type === 'sqlite' ? join(dir, 'portcullis.db') : storage.connectionString;
  return `databroker_storage_type: ${storage.type}\ndatabroker_storage_connection_string: '${conn}'`;
}

export async function startCluster(o: ClusterOptions): Promise<Cluster> {
  const publicPort = await freePort();
  const origin = `http://localhost:${publicPort}`;
  const ports = await Promise.all(Array.from({ length: o.count }, () => freePort()));
  mkdirSync(CACHE_DIR, { recursive: true });
  const dir = mkdtempSync(join(CACHE_DIR, `${o.name}-`));
  const password = randomBytes(12).toString('base64url');
  const shared = sharedYaml(
    origin,
    o.upstream,
    storageYaml(o.storage, dir),
    await hashPassword(password),
  );
  const started: Service[] = [];
  const stop = async () => {
    await Promise.all(started.map((s) => s.stop()));
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    // One at a time: the first migrates the storage, the others find it done.
    for (const [i, port] of ports.entries()) {
      const file = join(dir, `replica-${i}.yaml`);
      writeFileSync(file, [`address: 127.0.0.1:${port}`, ...shared].join('\n') + '\n', {
        mode: 0o600,
      });
      const args = [join(ROOT, 'bin/portcullis.js'), 'gateway', '--config', file];
      const env = { LOG_LEVEL: o.logLevel };
      started.push(
        await startService(`${o.name}-${i}`, args, env, port, { keepOutput: 256 * 1024 }),
      );
      await untilReady(port);
    }
    if (o.balanced) started.push(await startBalancer(`${o.name}-nginx`, publicPort, ports));
  } catch (err) {
    await stop();
    throw err;
  }
  const replicas = started.slice(0, o.count);
  const balancer = o.balanced ? started.at(-1) : undefined;
  const host = `localhost:${publicPort}`;
  return { label: o.label, host, origin, balancer, replicas, ports, email: EMAIL, password, stop };
}

/** Resolves once `GET /readyz` answers 200: the gateway listens before it is built. */
async function untilReady(port: number): Promise<void> {
  const status = () =>
    new Promise<number>((done) => {
      const req = request({ host: '127.0.0.1', port, path: '/readyz', agent: false }, (res) => {
        res.resume();
        done(res.statusCode ?? 0);
      });
      req.on('error', () => done(0));
      req.end();
    });
  for (const deadline = Date.now() + 30_000; Date.now() < deadline;) {
    if ((await status()) === 200) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`the gateway on port ${port} was not ready within 30 s`);
}
