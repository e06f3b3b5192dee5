/**
 * Part 1 of the replicas bench: how long a token revoked through one replica keeps working on
 * the others. Per round: a fresh token, used on every replica (so each has it cached), revoked
 * through replica 0 (RFC 7009), then replicas 1… polled every `POLL_MS` until they refuse it.
 * The lag is the moment the refusal arrived minus the moment the revocation was answered.
 */
import { median } from './measure.js';
import type { Cluster } from './replicas-cluster.js';
import {
  accepts,
  issueToken,
  revokeToken,
  signedInClient,
  type BenchClient,
  type Gate,
} from './replicas-tokens.js';
import { fmt, printTable } from './table.js';

const POLL_MS = 5;
/** A replica still accepting the token after this long is reported as such, not waited for. */
const GIVE_UP_MS = 15_000;
/** Issue 12: every replica's caches within one second. */
const TARGET_MS = 1_000;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Lag {
  /** From `since` until the refusal arrived; Infinity when given up on. */
  readonly ms: number;
  /** Polls answered 200 before the refusal: the revoked token still worked that many times. */
  readonly passed: number;
}

async function lagOn(gate: Gate, token: string, since: number): Promise<Lag> {
  for (let passed = 0; ; passed++) {
    const sent = performance.now();
    if (!(await accepts(gate, token))) return { ms: performance.now() - since, passed };
    if (sent - since > GIVE_UP_MS) return { ms: Infinity, passed };
    await sleep(Math.max(0, POLL_MS - (performance.now() - sent)));
  }
}

/** One revocation: the lag on each replica but the first. */
async function oneRevocation(gates: readonly Gate[], client: BenchClient): Promise<Lag[]> {
  const [first, ...others] = gates as [Gate, ...Gate[]];
  const token = await issueToken(first, client);
  for (const gate of [...gates, ...gates]) {
    if (!(await accepts(gate, token))) throw new Error(`a fresh token refused on ${gate.port}`);
  }
  await revokeToken(first, client, token);
  const answered = performance.now();
  const lags = await Promise.all(others.map((gate) => lagOn(gate, token, answered)));
  if (await accepts(first, token)) throw new Error('the revoking replica still accepts the token');
  return lags;
}

export interface LagResult {
  readonly median: number;
  readonly max: number;
}

export async function measureRevocationLag(cluster: Cluster, rounds: number): Promise<LagResult> {
  const gates = cluster.ports.map((port) => ({ port, host: cluster.host }));
  const client = await signedInClient(gates[0]!, cluster.email, cluster.password);
  await oneRevocation(gates, client); // warm-up: first use of every code path
  console.log(
    `\nRevocation lag, ${cluster.label}: revoked through replica 0, polled every ${POLL_MS} ms`,
  );
  const lags: Lag[] = [];
  for (let round = 1; round <= rounds; round++) {
    const these = await oneRevocation(gates, client);
    lags.push(...these);
    const each = these
      .map((lag, i) => `replica ${i + 1} ${showLag(lag.ms)} (${lag.passed} passed)`)
      .join(', ');
    console.log(`  round ${String(round).padStart(2)}: ${each}`);
  }
  const all = lags.map((lag) => lag.ms);
  const result = { median: median(all), max: Math.max(...all) };
  printTable(
    ['revocations', 'lags', 'polls passed', 'median', 'max', 'target', 'verdict'],
    [
      [
        String(rounds),
        String(all.length),
        String(lags.reduce((sum, lag) => sum + lag.passed, 0)),
        showLag(result.median),
        showLag(result.max),
        `≤ ${fmt.ms(TARGET_MS)}`,
        result.max <= TARGET_MS ? 'met' : 'MISSED',
      ],
    ],
  );
  return result;
}

function showLag(ms: number): string {
  return Number.isFinite(ms) ? fmt.ms(ms) : `> ${GIVE_UP_MS / 1000} s`;
}
