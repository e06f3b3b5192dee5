/** A non-negative number from the environment (`BENCH_*`), or `fallback` when unset. */
export function knob(name: string, fallback: number): number {
  const raw = process.env[name];
  const n = raw === undefined || raw === '' ? fallback : Number(raw);
  if (!Number.isFinite(n) || n < 0) throw new Error(`${name}: expected a number, got ${raw}`);
  return n;
}
