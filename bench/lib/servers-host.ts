/** Starting `portcullis servers` for the bench, and reading what its process tree holds. */
import { join } from 'node:path';
import { descendantsOf, statusKib } from './proc.js';
import { ROOT, startService, type Service } from './spawn.js';

export function startServersHost(
  env: Record<string, string>,
  port: number,
  logLevel: string,
): Promise<Service> {
  return startService(
    'host',
    [join(ROOT, 'bin/portcullis.js'), 'servers'],
    { ...env, HOST: '127.0.0.1', PORT: String(port), LOG_LEVEL: logLevel },
    port,
  );
}

/** A `Vm*` figure (KiB) of a process and of each of its descendants (its query processes). */
export function treeKib(
  pid: number,
  field: 'VmHWM' | 'VmRSS',
): { host: number; workers: number[]; total: number } {
  const host = statusKib(pid, field) ?? 0;
  const workers = descendantsOf(pid).map((d) => statusKib(d, field) ?? 0);
  return { host, workers, total: host + workers.reduce((a, b) => a + b, 0) };
}
