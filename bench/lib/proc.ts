/**
 * CPU time and memory of processes from Linux /proc (proc(5)). Times are in clock ticks
 * (USER_HZ, 100 on every Linux we run on); memory in KiB.
 */
import { readFileSync, readdirSync } from 'node:fs';

/** USER_HZ: /proc reports CPU time in these units. */
export const TICKS_PER_SECOND = 100;

export interface ProcTimes {
  /** utime + stime of all the process's threads. */
  readonly self: number;
  /** cutime + cstime: children that exited and were waited for. */
  readonly reaped: number;
}

/** CPU ticks of one process, or undefined if it is gone. */
export function procTimes(pid: number): ProcTimes | undefined {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // The command name (field 2) may hold spaces and parentheses; fields resume after the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // Fields 14-17 (utime stime cutime cstime) are at 11-14 once pid and comm are dropped.
  const n = (i: number) => Number(fields[i] ?? 0);
  return { self: n(11) + n(12), reaped: n(13) + n(14) };
}

/** Direct children of a process (all its threads' children). */
export function childrenOf(pid: number): number[] {
  try {
    const out: number[] = [];
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      const text = readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8').trim();
      if (text) out.push(...text.split(/\s+/).map(Number));
    }
    return out;
  } catch {
    return childrenByScan(pid);
  }
}

/** Fallback for kernels without CONFIG_PROC_CHILDREN: the ppid field of every process. */
function childrenByScan(pid: number): number[] {
  const out: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === pid) out.push(Number(entry));
    } catch {
      // exited while scanning
    }
  }
  return out;
}

/** Every descendant of a process, depth first. */
export function descendantsOf(pid: number): number[] {
  const out: number[] = [];
  for (const child of childrenOf(pid)) out.push(child, ...descendantsOf(child));
  return out;
}

/** CPU ticks of a process tree at one moment. */
export interface TreeSnapshot {
  /** The root's own threads. */
  readonly root: number;
  /** The root's exited and waited-for children. */
  readonly reaped: number;
  /** Each live descendant: its own time plus its reaped children's. */
  readonly descendants: ReadonlyMap<number, number>;
}

export function treeSnapshot(pid: number): TreeSnapshot {
  const root = procTimes(pid) ?? { self: 0, reaped: 0 };
  const descendants = new Map<number, number>();
  for (const d of descendantsOf(pid)) {
    const t = procTimes(d);
    if (t) descendants.set(d, t.self + t.reaped);
  }
  return { root: root.self, reaped: root.reaped, descendants };
}

export interface TreeUsage {
  /** Ticks of the root's own threads. */
  readonly root: number;
  /** Ticks of the root and of every descendant that was already running at the start. */
  readonly tree: number;
  /** Ticks of descendants started in between (e.g. replacements of killed ones). */
  readonly newcomers: number;
}

/**
 * CPU used by a tree between two snapshots. A descendant that exited in between moves its
 * whole time into its parent's `reaped`, so what it had at the start is taken off again.
 */
export function treeUsage(before: TreeSnapshot, after: TreeSnapshot): TreeUsage {
  let tree = after.root - before.root + (after.reaped - before.reaped);
  let newcomers = 0;
  for (const [pid, ticks] of after.descendants) {
    const was = before.descendants.get(pid);
    if (was === undefined) newcomers += ticks;
    else tree += ticks - was;
  }
  for (const [pid, ticks] of before.descendants) {
    if (!after.descendants.has(pid)) tree -= ticks;
  }
  return { root: after.root - before.root, tree, newcomers };
}

/** Busy ticks of the whole machine (all CPUs), from the first line of /proc/stat. */
export function systemBusyTicks(): number {
  const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0] ?? '';
  // cpu user nice system idle iowait irq softirq steal guest guest_nice
  const [, user, nice, system, , , irq, softirq, steal] = line.trim().split(/\s+/).map(Number);
  return (user ?? 0) + (nice ?? 0) + (system ?? 0) + (irq ?? 0) + (softirq ?? 0) + (steal ?? 0);
}

/** A `Vm*` line of /proc/<pid>/status in KiB (VmHWM = peak resident set), or undefined. */
export function statusKib(pid: number | 'self', field: 'VmHWM' | 'VmRSS'): number | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status);
    return match ? Number(match[1]) : undefined;
  } catch {
    return undefined;
  }
}

export function commandLine(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim();
  } catch {
    return '';
  }
}
