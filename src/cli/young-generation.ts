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
 * A user's own `--max-semi-space-size` (or growth factor) wins: nothing is set then. V8 11.3
 * (Node 20) takes a factor of 1; newer V8 raises any factor below 2 to 2, and there the new
 * space is seen growing past the cap, the default is put back and the steering stops (a
 * `--max-semi-space-size=4` in NODE_OPTIONS caps it there).
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
  const next = growthSteering(SEMI_SPACE_MIB * 1024 * 1024);
  const observer = new PerformanceObserver(() => steer());
  const steer = () => {
    const factor = next(semiSpaceBytes());
    if (factor === undefined) return;
    setFlagsFromString(`--semi-space-growth-factor=${factor === 'unheld' ? 2 : factor}`);
    if (factor === 'unheld') observer.disconnect();
  };
  steer();
  observer.observe({ entryTypes: ['gc'] });
  return true;
}

/**
 * Given the semi-space's size after each GC, the growth factor to set: the one that takes it to
 * `cap` in one growth (V8 grows to the factor times the current capacity, at most the maximum),
 * or 1 at the cap; undefined when the factor set stays right. `unheld` when it grew with the
 * factor at 1: newer V8 raises a factor below 2 to 2, the cap cannot be held, node's default
 * goes back and the steering stops.
 */
export function growthSteering(cap: number): (semi: number) => number | 'unheld' | undefined {
  let factor = 0;
  /** The size when growing was last turned off. */
  let heldAt = Infinity;
  return (semi) => {
    if (factor === 1 && semi > 1.5 * heldAt) return 'unheld';
    const next = Math.max(1, Math.round(cap / semi));
    if (next === 1) heldAt = semi;
    if (next === factor) return undefined;
    factor = next;
    return next;
  };
}

/**
 * One semi-space's capacity: what the new space holds plus what it has left. Its `space_size`
 * counts the from-space too when it is committed, which it is not always.
 */
function semiSpaceBytes(): number {
  const space = getHeapSpaceStatistics().find((s) => s.space_name === 'new_space');
  return space ? space.space_used_size + space.space_available_size : Infinity;
}
