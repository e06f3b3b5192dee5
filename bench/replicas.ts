/**
 * Several gateway replicas on one PostgreSQL (issue 12), measured:
 * 1. the revocation lag across replicas: a token revoked through one replica, how long until
 *    the others refuse it (median and max over `BENCH_REVOCATIONS`; target ≤ 1 s);
 * 2. tools/call CPU per request summed over the replicas behind an nginx round-robin balancer,
 *    1 replica on SQLite, 1 and 3 replicas on PostgreSQL, interleaved (REFERENCE §9).
 */
import { join } from 'node:path';
import { knob, loadKnobs } from './lib/knob.js';
import { hasNginx } from './lib/nginx.js';
import { startCluster, type Cluster, type ClusterOptions } from './lib/replicas-cluster.js';
import { measureReplicaCpu } from './lib/replicas-cpu.js';
import { measureRevocationLag } from './lib/replicas-lag.js';
import { startBenchPostgres, type BenchPostgres } from './lib/replicas-postgres.js';
import { LIB_DIST, freePort, startService, type Service } from './lib/spawn.js';
import { hasWrk } from './lib/wrk.js';

const LOG_LEVEL = process.env.BENCH_LOG_LEVEL ?? 'warn';

async function startUpstream(): Promise<Service> {
  const port = await freePort();
  const script = join(LIB_DIST, 'bare-upstream.js');
  return startService('replicas-bare-upstream', [script], { PORT: String(port) }, port);
}

/** The three configurations part 2 compares; the last one also serves part 1. */
async function startClusters(upstream: Service, postgres: BenchPostgres): Promise<Cluster[]> {
  const common = { upstream: `${upstream.url}/mcp`, logLevel: LOG_LEVEL, balanced: hasNginx() };
  const configs: ClusterOptions[] = [
    {
      ...common,
      name: 'replicas-sqlite',
      label: '1 replica, SQLite',
      count: 1,
      storage: { type: 'sqlite' },
    },
    {
      ...common,
      name: 'replicas-pg1',
      label: '1 replica, PostgreSQL',
      count: 1,
      storage: { type: 'postgres', connectionString: await postgres.createDatabase('bench_pg1') },
    },
    {
      ...common,
      name: 'replicas-pg3',
      label: '3 replicas, PostgreSQL',
      count: 3,
      storage: { type: 'postgres', connectionString: await postgres.createDatabase('bench_pg3') },
    },
  ];
  const clusters: Cluster[] = [];
  try {
    for (const config of configs) clusters.push(await startCluster(config));
  } catch (err) {
    await Promise.all(clusters.map((c) => c.stop()));
    throw err;
  }
  return clusters;
}

export async function run(): Promise<void> {
  const revocations = knob('BENCH_REVOCATIONS', 20);
  const knobs = loadKnobs();
  const upstream = await startUpstream();
  let postgres: BenchPostgres | undefined;
  let clusters: Cluster[] = [];
  try {
    postgres = await startBenchPostgres();
    clusters = await startClusters(upstream, postgres);
    await measureRevocationLag(clusters[2]!, revocations);
    if (!hasNginx() || !hasWrk()) {
      console.log('\nnginx or wrk is missing: part 2 (CPU per request) skipped.');
      return;
    }
    await measureReplicaCpu(clusters, {
      maxOtherCores: knobs.maxOtherCores,
      retries: knobs.retries,
      budget: { ms: knobs.quietBudgetS * 1000 },
      others: [upstream.pid, postgres.pid],
    });
  } finally {
    await Promise.all(clusters.map((c) => c.stop()));
    await postgres?.stop();
    await upstream.stop();
  }
}
