/**
 * A measured wrk run repeated while other processes disturbed it (REFERENCE §9), within a quiet
 * budget shared by the whole suite.
 */
import { measureRun, waitForQuiet, type Measured } from './measure.js';
import type { WrkOptions } from './wrk.js';

export interface SteadySettings {
  /** A run during which other processes used more than this many cores is repeated. */
  readonly maxOtherCores: number;
  readonly retries: number;
}

export interface QuietBudget {
  /** What is left of the time the suite may spend waiting for a quiet machine. */
  ms: number;
}

export interface SteadyRun {
  readonly label: string;
  /** The process whose CPU per request is the figure (a proxy, or the upstream when direct). */
  readonly pid: number;
  /** Processes serving the load behind it (the upstream), measured alongside. */
  readonly companions: readonly number[];
  readonly load: WrkOptions;
}

export async function measureSteady(
  run: SteadyRun,
  settings: SteadySettings,
  budget: QuietBudget,
  describe: (m: Measured) => string,
): Promise<Measured> {
  for (let attempt = 0; ; attempt++) {
    const waited = await waitForQuiet(settings.maxOtherCores, budget.ms);
    budget.ms = Math.max(0, budget.ms - waited);
    const m = await measureRun(run.pid, run.load, run.companions);
    if (m.wrk.failures > 0) {
      throw new Error(`${run.label}: ${m.wrk.failures} failed requests\n${m.wrk.raw}`);
    }
    const disturbed = m.otherCores > settings.maxOtherCores;
    // With the quiet budget spent the machine is busy for good: repeating would not help.
    const again = disturbed && attempt < settings.retries && budget.ms > 0;
    const note = !disturbed ? '' : again ? '  disturbed: again' : '  DISTURBED';
    const wait = waited > 1000 ? ` (waited ${(waited / 1000).toFixed(0)} s for quiet)` : '';
    console.log(`  ${run.label.padEnd(36)} ${describe(m)}${wait}${note}`);
    if (!again) return m;
  }
}
