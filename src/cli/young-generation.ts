/**
 * The process's cap on V8's young generation: two semi-spaces of `SEMI_SPACE_MIB` each, where
 * node's default lets each grow to 16 MiB. The 16 MiB are reached while the CLI's modules load
 * (their code survives scavenges) and again under any load, so they were a fifth of the
 * gateway's resident memory; 4 MiB cost about 1 % more CPU per request, 2 MiB 12 %
 * (docs/performance.md, "The young generation").
 *
 * `--max-semi-space-size` is read only when the heap is made, so a process cannot lower it for
 * itself. `--semi-space-growth-factor` is read each time V8 grows the new space (after a
 * scavenge that found enough survivors), and the new space starts at 1 MiB: the factor is set
 * so that one growth reaches the cap, then to 1, which makes growing a no-op. It is set again
 * after every GC for the size the new space has then: V8's memory reducer shrinks it back to
 * 1 MiB in a quiet process, and it must be able to grow to the cap again under load.
 *
 * A user's own `--max-semi-space-size` (or growth factor) wins: nothing is set then.
 */
import { PerformanceObserver } from 'node:perf_hooks';
import { getHeapSpaceStatistics, setFlagsFromString } from 'node:v8';

export const SEMI_SPACE_MIB = 4;

const FLAGS_OF_OUR_OWN = ['--max-semi-space-size', '--semi-space-growth-factor'];

/** Starts steering the growth factor; false when the user sized the young generation. */
export function capYoungGeneration(
  nodeOptions: string | undefined,
  execArgv: readonly string[],
): boolean {
  const given = [...(nodeOptions ?? '').split(/\s+/), ...execArgv].map((a) =>
    a.replaceAll('_', '-'),
  );
  if (given.some((a) => FLAGS_OF_OUR_OWN.some((flag) => a.startsWith(flag)))) return false;
  const cap = SEMI_SPACE_MIB * 1024 * 1024;
  let factor = 0;
  const steer = () => {
    const next = growthFactor(semiSpaceBytes(), cap);
    if (next === factor) return;
    factor = next;
    setFlagsFromString(`--semi-space-growth-factor=${next}`);
  };
  steer();
  new PerformanceObserver(steer).observe({ entryTypes: ['gc'] });
  return true;
}

/**
 * The factor that takes a semi-space of `semi` bytes to `cap` in one growth: V8 grows to the
 * factor times the current capacity, at most the maximum.
 */
function growthFactor(semi: number, cap: number): number {
  return Math.max(1, Math.round(cap / semi));
}

/**
 * One semi-space's capacity: what the new space holds plus what it has left. Its `space_size`
 * counts the from-space too when it is committed, which it is not always.
 */
function semiSpaceBytes(): number {
  const space = getHeapSpaceStatistics().find((s) => s.space_name === 'new_space');
  return space ? space.space_used_size + space.space_available_size : Infinity;
}
