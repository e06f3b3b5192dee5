import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';

const LOG_MODULE = fileURLToPath(new URL('./log.js', import.meta.url));

/** A child process that makes the JSON logger and runs `body` with it as `log`. */
function child(body: string) {
  const script = `import { createLogger } from ${JSON.stringify(LOG_MODULE)};
const log = createLogger('info', 'json');
${body}`;
  const proc = spawn(process.execPath, ['--input-type=module', '-e', script], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  proc.stderr.resume(); // the crash's stack trace
  const lines: { msg: string; at: number }[] = [];
  let buffered = '';
  proc.stdout.on('data', (chunk: Buffer) => {
    buffered += chunk.toString();
    for (let nl = buffered.indexOf('\n'); nl !== -1; nl = buffered.indexOf('\n')) {
      const line = JSON.parse(buffered.slice(0, nl)) as { msg: string };
      lines.push({ msg: line.msg, at: Date.now() });
      buffered = buffered.slice(nl + 1);
    }
  });
  return { proc, lines, started: Date.now() };
}

test('a JSON line is out within the flush interval while the process runs on', async () => {
  const { proc, lines, started } = child(
    "log.info('first'); setTimeout(() => process.exit(0), 1500);",
  );
  await once(proc, 'exit');
  const first = lines.find((l) => l.msg === 'first');
  assert.ok(first, 'the line came');
  // Spawning node takes a while; the line must come well before the process ends.
  assert.ok(first.at - started < 1400, `${first.at - started} ms after the start`);
});

test('what is buffered is written when the process exits or crashes', async () => {
  const exits = child('for (let i = 0; i < 3; i++) log.info(`line ${i}`); process.exit(3);');
  const [code] = await once(exits.proc, 'exit');
  assert.equal(code, 3);
  assert.deepEqual(
    exits.lines.map((l) => l.msg),
    ['line 0', 'line 1', 'line 2'],
  );
  const crashes = child("log.info('before the crash'); throw new Error('boom');");
  await once(crashes.proc, 'exit');
  assert.deepEqual(
    crashes.lines.map((l) => l.msg),
    ['before the crash'],
  );
});
