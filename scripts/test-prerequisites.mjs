// What `npm test` needs beyond `npm ci`, set up by `npm test` itself (its `pretest`), so a machine
// that has never seen the project passes: Debian's Chromium for the browser tests (driven by
// playwright-core, never a downloaded browser) and openssl for the test CA. As root on Debian,
// missing packages are installed with apt-get; elsewhere the missing ones are named and the run
// stops before any test is cancelled for want of them.
import { spawnSync } from 'node:child_process';
import { accessSync, chmodSync, constants, statSync } from 'node:fs';
import { delimiter, dirname, join, resolve } from 'node:path';

const root = resolve(dirname(new URL(import.meta.url).pathname), '..');
const asRoot = process.getuid?.() === 0;

/** Debian package → how a test finds it. */
const PACKAGES = [
  { name: 'chromium', present: () => executable(process.env.CHROMIUM_PATH ?? '/usr/bin/chromium') },
  { name: 'openssl', present: () => onPath('openssl') },
];

function executable(path) {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function onPath(command) {
  return (process.env.PATH ?? '').split(delimiter).some((d) => d && executable(join(d, command)));
}

function run(command, args) {
  const result = spawnSync(command, args, {
    stdio: ['ignore', 'inherit', 'inherit'],
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
  });
  if (result.status !== 0) {
    console.error(`test prerequisites: \`${command} ${args.join(' ')}\` failed`);
    process.exit(1);
  }
}

function installMissing() {
  const missing = PACKAGES.filter((p) => !p.present()).map((p) => p.name);
  if (missing.length === 0) return;
  if (!asRoot || !onPath('apt-get')) {
    console.error(
      `test prerequisites: missing Debian packages ${missing.join(', ')}; install them with\n` +
        `  sudo apt-get install --no-install-recommends ${missing.join(' ')}\n` +
        '(or set CHROMIUM_PATH to a Chromium binary), then run npm test again.',
    );
    process.exit(1);
  }
  console.log(`test prerequisites: installing ${missing.join(', ')} with apt-get`);
  run('apt-get', ['update', '-qq']);
  run('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...missing]);
  const still = PACKAGES.filter((p) => !p.present()).map((p) => p.name);
  if (still.length > 0) {
    console.error(`test prerequisites: still missing after apt-get: ${still.join(', ')}`);
    process.exit(1);
  }
}

/**
 * PostgreSQL refuses to run as root, so as root the tests run it as the OS user `postgres`,
 * which must reach the server binaries in this checkout's node_modules: every directory above
 * them gets the search bit for others (never read or write).
 */
function letPostgresReachCheckout() {
  if (!asRoot) return;
  for (let dir = join(root, 'node_modules'); ; dir = dirname(dir)) {
    try {
      const mode = statSync(dir).mode;
      if ((mode & 0o001) === 0) chmodSync(dir, (mode & 0o7777) | 0o001);
    } catch {
      // A directory we cannot stat or change: the PostgreSQL tests say what failed.
    }
    if (dirname(dir) === dir) break;
  }
}

installMissing();
letPostgresReachCheckout();
