import type { Logger } from 'pino';
import { createLogger, logFormat, type LogFormat } from './log.js';
import { ConfigError } from '../core/errors.js';
import { ConfigValidationError, formatIssue } from '../config/issues.js';
import { LOG_LEVELS } from '../config/schema.js';
import type { LogLevel } from '../config/types.js';

const USAGE = `Usage: portcullis <command>

Commands:
  dev       Run the whole system on embedded defaults: gateway, built-in sign-in, servers host
  gateway   Run the gateway: portcullis gateway --config FILE
  servers   Run the MCP servers host (/sqlite, /notion, /whoami), configured by environment variables
  check     Validate a gateway config and exit: portcullis check --config FILE
  help      Show this help

See README.md for the environment variables each command reads.`;

/**
 * Each command imports what it runs when it runs: `portcullis servers` never loads the gateway
 * (about 38 MB of resident memory in a process that should stay small, issue 13), nor
 * `portcullis gateway` the servers (the MCP SDK, the Notion client: 4 MB of its heap).
 */
export async function main(argv: readonly string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || command === 'help' || command === '--help' || command === '-h') {
    console.log(USAGE);
    return command === undefined ? 1 : 0;
  }
  if (rest.length > 0 && command !== 'check' && command !== 'gateway') {
    console.error(`portcullis ${command}: unexpected arguments: ${rest.join(' ')}\n\n${USAGE}`);
    return 2;
  }
  try {
    const format = logFormat(process.env, command, process.stdout.isTTY === true);
    const logger = createLogger(envLogLevel(process.env) ?? 'info', format);
    switch (command) {
      case 'servers':
        return await runUntilSignal(logger, () => startServers(logger));
      case 'dev':
        return await runUntilSignal(logger, () => startDev(logger));
      case 'gateway':
        return await runGateway(rest, logger, format);
      case 'check':
        return (await import('../config/check.js')).runCheck(rest, process.env);
      default:
        console.error(`portcullis: unknown command ${JSON.stringify(command)}\n\n${USAGE}`);
        return 2;
    }
  } catch (err) {
    if (err instanceof ConfigError) {
      for (const line of configErrorLines(err)) console.error(line);
      return 78; // EX_CONFIG
    }
    throw err;
  }
}

/**
 * Bad input at start-up, one line per error: `FILE:LINE key: message` for the config file,
 * `VARIABLE: message` for the environment. No stack: the fix is in the input, not the code.
 */
function configErrorLines(err: ConfigError): string[] {
  if (!(err instanceof ConfigValidationError)) return [err.message];
  return err.issues.filter((i) => i.severity === 'error').map(formatIssue);
}

/** `portcullis servers`: the MCP servers host alone. */
async function startServers(logger: Logger) {
  const [{ startServersHost }, { defaultServerFactories }] = await Promise.all([
    import('../servers/host.js'),
    import('../servers/registry.js'),
  ]);
  return startServersHost({ env: process.env, logger }, defaultServerFactories);
}

/** `portcullis dev`: the embedded system, and the banner with the user to sign in as. */
async function startDev(logger: Logger) {
  const { startDevSystem } = await import('./dev.js');
  const system = await startDevSystem(process.env, logger);
  const password = system.user.generatedPassword
    ? `  password: ${system.user.generatedPassword}  (shown once; set PORTCULLIS_DEV_PASSWORD to choose one)`
    : '  password: the one set before (PORTCULLIS_DEV_PASSWORD changes it)';
  console.log(
    [
      '',
      `Portcullis is up: open ${system.url}/ in a browser and sign in as`,
      `  email:    ${system.user.email}`,
      password,
      'MCP servers (for your MCP client):',
      ...system.mcpUrls.map((u) => `  ${u}`),
      ...notionBanner(system.notionCallbackUrl),
      ...(system.appUrl
        ? ['An app behind an mcp.client route (client mode):', `  ${system.appUrl}`]
        : []),
      'Press Ctrl+C to stop.',
      '',
    ].join('\n'),
  );
  return system;
}

/** What the Notion integration needs registered, or how to turn `/notion` on. */
function notionBanner(callbackUrl: string | null): string[] {
  if (callbackUrl === null) {
    return ['/notion is off: set NOTION_CLIENT_ID and NOTION_CLIENT_SECRET (docs/notion.md).'];
  }
  return ['Notion: register this redirect URI in your Notion integration:', `  ${callbackUrl}`];
}

/** `portcullis gateway --config FILE`. */
async function runGateway(
  args: readonly string[],
  logger: Logger,
  format: LogFormat,
): Promise<number> {
  const file = configFile(args);
  if (file === undefined) {
    console.error(`portcullis gateway: expected --config FILE\n\n${USAGE}`);
    return 2;
  }
  const [{ loadConfig }, { startGateway }] = await Promise.all([
    import('../config/load.js'),
    import('../http/gateway.js'),
  ]);
  const { config, warnings } = loadConfig(file, process.env);
  for (const w of warnings) logger.warn({ config: formatIssue(w) }, 'configuration warning');
  // LOG_LEVEL is already in config.logLevel: the config's environment overrides.
  const gatewayLogger = createLogger(config.logLevel, format);
  if (config.tls?.autocert) {
    // Only with autocert: acme-client is 5 MiB of heap (http/autocert.ts).
    const { traceAcmeClient } = await import('../tls/acme-order.js');
    traceAcmeClient((message) => gatewayLogger.debug({ acme: message }, 'acme-client'));
  }
  return runUntilSignal(gatewayLogger, () => startGateway({ config, logger: gatewayLogger }));
}

/**
 * LOG_LEVEL, checked before pino sees it (pino throws on an unknown level). Empty means unset,
 * as for every other variable.
 */
function envLogLevel(env: NodeJS.ProcessEnv): LogLevel | undefined {
  const raw = env.LOG_LEVEL?.trim();
  if (raw === undefined || raw === '') return undefined;
  const level = LOG_LEVELS.find((l) => l === raw);
  if (level === undefined) {
    throw new ConfigError(
      'LOG_LEVEL (environment)',
      `expected one of ${LOG_LEVELS.join(', ')}, got ${JSON.stringify(raw)}`,
    );
  }
  return level;
}

/**
 * Starts a service and keeps it up until SIGINT/SIGTERM, then drains it and returns 0. The
 * handlers are in place before start-up begins: a signal during start-up lets the start finish
 * and then drains, where node's default action would kill the process half-started.
 */
async function runUntilSignal(
  logger: Logger,
  start: () => Promise<{ close(): Promise<void> }>,
): Promise<number> {
  let stopRequested = () => {};
  const stop = new Promise<void>((resolveSignal) => (stopRequested = resolveSignal));
  const onSignal = (signal: NodeJS.Signals) => {
    logger.info({ signal }, 'shutting down: draining in-flight requests');
    removeHandlers();
    stopRequested();
  };
  const removeHandlers = () => {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  let host;
  try {
    host = await start();
  } catch (err) {
    removeHandlers();
    throw err;
  }
  await stop;
  await host.close();
  return 0;
}

function configFile(args: readonly string[]): string | undefined {
  if (args.length === 2 && args[0] === '--config') return args[1];
  if (args.length === 1 && args[0]!.startsWith('--config='))
    return args[0]!.slice('--config='.length);
  return undefined;
}
