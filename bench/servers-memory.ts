/**
 * What the servers host holds once it has been through the worst: the hostile SQL corpus of
 * test/sqlite-hostile.test.ts, then `SELECT *` over the large table, all through /sqlite
 * read_query with production defaults. Read at rest (about a second after the last answer) as
 * VmRSS summed over the host and every descendant, against issue 13's 200 MB target.
 */
import Database from 'better-sqlite3';
import { rmSync } from 'node:fs';
import { makeDataDir } from '../test/sqlite-fixture.js';
import { hostileCorpus } from '../test/sqlite-corpus.js';
import { callTool, expectSuccess } from './lib/mcp-call.js';
import { commandLine, descendantsOf, statusKib } from './lib/proc.js';
import { startServersHost, treeKib } from './lib/servers-host.js';
import { freePort } from './lib/spawn.js';
import { fmt, printTable } from './lib/table.js';

/** Issue 13: the host and its query processes, summed, at rest. */
const TARGET_MB = 200;
const BIG_QUERY = 'SELECT * FROM people';
const BIG_RUNS = 3;

export async function memoryBench(bigFile: string, logLevel: string): Promise<void> {
  console.log(`\n-- servers host memory: hostile corpus, then "${BIG_QUERY}" --`);
  const data = withPeople(bigFile);
  const host = await startServersHost({ SQLITE_DB_FILE: data.file }, await freePort(), logLevel);
  try {
    const url = `${host.url}/sqlite`;
    await settle();
    const idle = treeKib(host.pid, 'VmRSS');
    const corpus = hostileCorpus(data.dir, data.other);
    const corpusStarted = performance.now();
    for (const [, sql] of corpus) await callTool(url, 'read_query', { query: sql });
    const corpusMs = performance.now() - corpusStarted;
    const times: number[] = [];
    for (let i = 0; i < BIG_RUNS; i++) {
      const answer = await callTool(url, 'read_query', { query: BIG_QUERY });
      expectSuccess(answer, BIG_QUERY);
      times.push(answer.ms);
    }
    await settle();
    report(host.pid, idle, { corpusMs, entries: corpus.length, times });
  } finally {
    await host.stop();
    rmSync(data.dir, { recursive: true, force: true });
  }
}

/** The hostile test's data directory, with the large table copied in as `people`. */
function withPeople(bigFile: string): ReturnType<typeof makeDataDir> {
  const data = makeDataDir(3000);
  const db = new Database(data.file);
  db.prepare('ATTACH ? AS src').run(bigFile);
  db.exec('CREATE TABLE people AS SELECT * FROM src.t');
  db.exec('DETACH src');
  db.close();
  return data;
}

/** At rest: replacements of killed processes started, nothing running. */
const settle = () => new Promise((r) => setTimeout(r, 1000));

interface Runs {
  readonly corpusMs: number;
  readonly entries: number;
  readonly times: readonly number[];
}

function report(pid: number, idle: ReturnType<typeof treeKib>, runs: Runs): void {
  const rest = treeKib(pid, 'VmRSS');
  const peak = treeKib(pid, 'VmHWM');
  const mb = (rest.total * 1024) / 1e6;
  const verdict = mb < TARGET_MB ? 'met' : 'MISSED';
  const rows = [
    [`${runs.entries} hostile entries`, fmt.ms(runs.corpusMs), '', ''],
    ...runs.times.map((ms, i) => [`"${BIG_QUERY}" run ${i + 1}`, fmt.ms(ms), '', '']),
    ['host process', '', `${fmt.mib(idle.host)} → ${fmt.mib(rest.host)}`, fmt.mib(peak.host)],
    ...descendantsOf(pid).map((d) => [
      `  pid ${d} ${role(commandLine(d))}`,
      '',
      fmt.mib(statusKib(d, 'VmRSS')),
      fmt.mib(statusKib(d, 'VmHWM')),
    ]),
    [
      `tree (${rest.workers.length + 1} processes; target < ${TARGET_MB} MB: ${verdict})`,
      '',
      `${fmt.mib(idle.total)} → ${fmt.mib(rest.total)} (${mb.toFixed(0)} MB)`,
      fmt.mib(peak.total),
    ],
  ];
  printTable(['step / process', 'time', 'VmRSS idle → at rest', 'VmHWM'], rows);
}

function role(cmd: string): string {
  return cmd.includes('query-worker') ? 'query process' : cmd.slice(0, 40);
}
