import { pino, type Logger } from 'pino';
import { startServersHost, type ServersHost } from '../servers/host.js';
import { defaultServerFactories } from '../servers/registry.js';
import { ConfigError } from '../core/errors.js';
import { prepareDemoDatabase } from '../servers/sqlite/demo.js';
import { resolve } from 'node:path';
import { runCheck } from '../config/check.js';

const USAGE = `Usage: portcullis <command>

Commands:
  dev       Run the whole system on embedded defaults (today: the servers host with a demo database)
  servers   Run the MCP servers host (/sqlite, /notion, /whoami), configured by environment variables
  check     Validate a gateway config and exit: portcullis check --config FILE
  help      Show this help

See README.md for the environment variables each command reads.`;

export async function main(argv: readonly string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || command === 'help' || command === '--help' || command === '-h') {
    console.log(USAGE);
    return command === undefined ? 1 : 0;
  }
  if (rest.length > 0 && command !== 'check') {
    console.error(`portcullis ${command}: unexpected arguments: ${rest.join(' ')}\n\n${USAGE}`);
    return 2;
  }
  const logger = pino({ level: process.env.LOG_LEVEL ?? 'info' });
  try {
    switch (command) {
      case 'servers':
        return await runUntilSignal(logger, () =>
          startServersHost({ env: process.env, logger }, defaultServerFactories),
        );
      case 'dev':
        return await runUntilSignal(logger, async () => {
          const env = { ...process.env };
          const dataDir = resolve(env.PORTCULLIS_DATA_DIR ?? 'data');
          env.SQLITE_DB_FILE ??= prepareDemoDatabase(dataDir, logger);
          const host = await startServersHost({ env, logger }, defaultServerFactories);
          const base = host.url.replace('127.0.0.1', 'localhost').replace('[::1]', 'localhost');
          console.log(
            `\nPortcullis servers host is up. MCP endpoints:\n${host.servers
              .map((s) => `  ${base}/${s}`)
              .join('\n')}\nPress Ctrl+C to stop.\n`,
          );
          return host;
        });
      case 'check':
        return runCheck(rest, process.env);
      default:
        console.error(`portcullis: unknown command ${JSON.stringify(command)}\n\n${USAGE}`);
        return 2;
    }
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(`portcullis: configuration error: ${err.message}`);
      return 78; // EX_CONFIG
    }
    throw err;
  }
}

/** Starts a service and keeps it up until SIGINT/SIGTERM, then drains it and returns 0. */
async function runUntilSignal(logger: Logger, start: () => Promise<ServersHost>): Promise<number> {
  const host = await start();
  await new Promise<void>((resolveSignal) => {
    const onSignal = (signal: NodeJS.Signals) => {
      logger.info({ signal }, 'shutting down: draining in-flight requests');
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      resolveSignal();
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  });
  await host.close();
  return 0;
}
