// What `npm test` and `npm run bench` need beyond `npm ci`, set up by those commands themselves
// (their `pre` scripts), so a machine that has never seen the project runs them: `test` needs
// Debian's Chromium for the browser tests (driven by playwright-core, never a downloaded
// browser), openssl for the test CA, pebble (an ACME test CA, with pebble-challtestsrv as its
// DNS) for the autocert tests, prometheus to scrape the gateway's metrics, and traversal
// rights for the postgres user; `bench` needs wrk (the load) and nginx (the reference proxy).
// As root on Debian, missing packages are installed with apt-get; elsewhere the missing ones
// are named and the run stops at once.
import { spawnSync } from 'node:child_process';
import { accessSync, chmodSync, constants, statSync } from 'node:fs';
import { delimiter, dirname, join, resolve } from 'node:path';

const root = resolve(dirname(new URL(import.meta.url).pathname), '..');
const asRoot = process.getuid?.() === 0;

/** Per command: Debian package → how the command finds it. */
const NEEDS = {
  test: [
    {
      name: 'chromium',
      present: () => executable(process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'),
    },
    { name: 'openssl', present: () => onPath('openssl') },
    { name: 'pebble', present: () => onPath('pebble') && onPath('pebble-challtestsrv') },
    {
      name: 'prometheus',
      present: () => executable(process.env.PROMETHEUS_PATH ?? '/usr/bin/prometheus'),
    },
  ],
  bench: [
    { name: 'wrk', present: () => onPath('wrk') },
    { name: 'nginx-light', present: () => executable('/usr/sbin/nginx') },
  ],
};

const target = process.argv[2];
const PACKAGES = NEEDS[target];
if (PACKAGES === undefined) {
  console.error(`usage: node scripts/prerequisites.mjs ${Object.keys(NEEDS).join('|')}`);
  process.exit(2);
}

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
    stdio: ['ignore', 'ignore', 'inherit'],
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
  });
  if (result.status !== 0) {
    console.error(`${target} prerequisites: \`${command} ${args.join(' ')}\` failed`);
    process.exit(1);
  }
}

function installMissing() {
  const missing = PACKAGES.filter((p) => !p.present()).map((p) => p.name);
  if (missing.length === 0) return;
  if (!asRoot || !onPath('apt-get')) {
    const hint = missing.includes('chromium') ? ' (or set CHROMIUM_PATH)' : '';
    console.error(
      `npm ${target === 'test' ? 'test' : 'run bench'}: missing Debian packages: run \`sudo apt-get install --no-install-recommends ${missing.join(' ')}\`${hint}, then try again`,
    );
    process.exit(1);
  }
  console.log(`${target} prerequisites: installing ${missing.join(', ')} with apt-get`);
  run('apt-get', ['update', '-qq']);
  run('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...missing]);
  const still = PACKAGES.filter((p) => !p.present()).map((p) => p.name);
  if (still.length > 0) {
    console.error(`${target} prerequisites: still missing after apt-get: ${still.join(', ')}`);
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
if (target === 'test') letPostgresReachCheckout();
