import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pino, type Logger } from 'pino';
import { writeInfoLine } from './log-line.js';

/** A logger whose lines are kept, with a clock that always reads the same. */
function capturing(level: pino.Level = 'info'): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  const logger = pino({ level, timestamp: () => ',"time":42' }, { write: (l) => lines.push(l) });
  return { logger, lines };
}

test('the line is the one logger.info writes, bindings included', () => {
  const fields = { audit: true, route: 'a "quoted" route', n: 1.5, keys: ['q', 'é'] };
  const serialized = `,${JSON.stringify(fields).slice(1, -1)}`;
  const { logger, lines } = capturing();
  for (const l of [logger, logger.child({ component: 'gateway', n: 7 })]) {
    l.info(fields, 'audit');
    writeInfoLine(l, serialized, 'audit');
  }
  assert.equal(lines.length, 4);
  assert.equal(lines[1], lines[0]);
  assert.equal(lines[3], lines[2]);
  assert.match(lines[2]!, /"component":"gateway"/);
  assert.ok(lines[0]!.endsWith('\n'));
});

test('nothing is written below the logger level', () => {
  const { logger, lines } = capturing('warn');
  writeInfoLine(logger, ',"audit":true', 'audit');
  assert.deepEqual(lines, []);
});
