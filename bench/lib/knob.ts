/** A non-negative number from the environment (`BENCH_*`), or `fallback` when unset. */
export function knob(name: string, fallback: number): number {
  const raw = process.env[name];
  const n = raw === undefined || raw === '' ? fallback : Number(raw);
  if (!Number.isFinite(n) || n < 0) throw new Error(`${name}: expected a number, got ${raw}`);
  return n;
}

/** The knobs every load part reads (bench/README.md, "Trusting the numbers"). */
export function loadKnobs() {
  return {
    durationS: knob('BENCH_DURATION_S', 5),
    warmupS: knob('BENCH_WARMUP_S', 3),
    rounds: knob('BENCH_ROUNDS', 3),
    connections: knob('BENCH_CONNECTIONS', 16),
    /** A run during which other processes used more than this many cores is repeated. */
    maxOtherCores: knob('BENCH_MAX_OTHER_CORES', 0.1),
    retries: knob('BENCH_RETRIES', 2),
    /** Before each run, wait (up to this many seconds in all) for other processes to calm down. */
    quietBudgetS: knob('BENCH_QUIET_WAIT_S', 30),
  };
}
