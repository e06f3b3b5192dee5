import { readFileSync } from 'node:fs';
import type { z } from 'zod';
import type { Env } from '../core/env.js';
import { isObject } from '../core/json.js';
import { parsePolicy } from '../policy/parse.js';
import { applyEnv } from './env.js';
import {
  ConfigValidationError,
  IssueSink,
  type ConfigIssue,
  type Path,
  type PathSegment,
} from './issues.js';
import { translateLegacyMcp } from './legacy.js';
import { UNSUPPORTED_ROUTE_KEYS, UNSUPPORTED_SETTINGS } from './pomerium-keys.js';
import { buildRoute } from './routes.js';
import { ROUTE_KEYS, SETTING_KEYS, routeSchema, settingsSchema } from './schema.js';
import { buildSettings } from './settings.js';
import type { Config, RouteConfig } from './types.js';
import { readYaml } from './yaml-source.js';

export interface Analysis {
  /** The config, or null when any error was found. */
  readonly config: Config | null;
  /** Every error and warning, in file order. */
  readonly issues: readonly ConfigIssue[];
}

export interface LoadedConfig {
  readonly config: Config;
  readonly warnings: readonly ConfigIssue[];
}

/** Reads and validates a config file; throws `ConfigValidationError` listing every error. */
export function loadConfig(file: string, env: Env): LoadedConfig {
  return parseConfig(readConfigText(file), file, env);
}

/** Validates config text (pure: no file, storage or network access); throws on any error. */
export function parseConfig(text: string, fileName: string, env: Env): LoadedConfig {
  const { config, issues } = analyzeConfig(text, fileName, env);
  if (!config) throw new ConfigValidationError(fileName, issues);
  return { config, warnings: issues.filter((i) => i.severity === 'warning') };
}

export function readConfigText(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigValidationError(file, [
      {
        severity: 'error',
        file,
        line: 0,
        key: '(file)',
        message: `cannot read the config file: ${(err as NodeJS.ErrnoException).code ?? String(err)}`,
      },
    ]);
  }
}

/** Finds every problem in one pass and builds the config when there is none. */
export function analyzeConfig(text: string, fileName: string, env: Env): Analysis {
  const source = readYaml(text, fileName);
  if (source.syntaxIssues.some((i) => i.severity === 'error')) {
    return { config: null, issues: source.syntaxIssues };
  }
  const raw = source.value ?? {};
  const legacyRoutes = new Set<number>();
  const lineOf = (path: Path) => source.lineOf(underLegacyKeys(path, legacyRoutes));
  if (!isObject(raw)) {
    const sink = new IssueSink(fileName, lineOf);
    sink.error([], 'expected a map of settings at the top of the file');
    return { config: null, issues: sink.issues };
  }
  const { settings, sources } = applyEnv(raw, env);
  const sink = new IssueSink(fileName, lineOf, sources);
  sink.issues.push(...source.syntaxIssues);

  dropUnsupported(settings, [], UNSUPPORTED_SETTINGS, SETTING_KEYS, sink);
  const parsed = settingsSchema.safeParse(settings, { reportInput: true });
  if (!parsed.success) reportZod(parsed.error, [], SETTING_KEYS, sink);
  const routes = Array.isArray(settings.routes) ? settings.routes : [];
  const built = routes.map((route, i) => checkRoute(route, i, sink, legacyRoutes));
  checkResourceUrls(built, sink);
  const top = parsed.success ? buildSettings(parsed.data, env, sink) : undefined;

  const issues = [...sink.issues].sort((a, b) => a.line - b.line);
  if (sink.hasErrors || !top || built.some((r) => r === undefined)) return { config: null, issues };
  const config: Config = { source: fileName, ...top, routes: built as RouteConfig[] };
  return { config: deepFreeze(config), issues };
}

function checkRoute(
  value: unknown,
  index: number,
  sink: IssueSink,
  legacyRoutes: Set<number>,
): RouteConfig | undefined {
  const at: Path = ['routes', index];
  if (!isObject(value)) {
    sink.error(at, 'expected a route: a map with from, to and more');
    return undefined;
  }
  const route = { ...value };
  dropUnsupported(route, at, UNSUPPORTED_ROUTE_KEYS, ROUTE_KEYS, sink);
  if ('mcp' in route && translateLegacyMcp(route, at, sink)) legacyRoutes.add(index);
  let policyOk = true;
  const policy = parsePolicy(
    route.policy,
    (path, message) => {
      policyOk = false;
      sink.error(path, message);
    },
    [...at, 'policy'],
  );
  const parsed = routeSchema.safeParse(route, { reportInput: true });
  if (!parsed.success) {
    reportZod(parsed.error, at, ROUTE_KEYS, sink);
    return undefined;
  }
  const built = buildRoute(parsed.data, index, policy, sink);
  return policyOk ? built : undefined;
}

function checkResourceUrls(routes: readonly (RouteConfig | undefined)[], sink: IssueSink): void {
  const seen = new Map<string, number>();
  for (const route of routes) {
    if (route?.mcp?.kind !== 'server') continue;
    const first = seen.get(route.mcp.resourceUrl);
    if (first !== undefined) {
      sink.error(
        ['routes', route.index, 'from'],
        `MCP resource URL ${route.mcp.resourceUrl} is already served by routes[${first}]`,
      );
    } else seen.set(route.mcp.resourceUrl, route.index);
  }
}

/** Removes Pomerium keys we do not support yet from `obj`, warning about each. */
function dropUnsupported(
  obj: Record<string, unknown>,
  at: Path,
  unsupported: ReadonlyMap<string, string> | ReadonlySet<string>,
  supported: readonly string[],
  sink: IssueSink,
): void {
  for (const key of Object.keys(obj)) {
    if (supported.includes(key) || !unsupported.has(key)) continue;
    const why = unsupported instanceof Map ? unsupported.get(key) : undefined;
    sink.warn([...at, key], `Pomerium setting not supported yet: ${why ?? 'ignored'}`);
    delete obj[key];
  }
}

function reportZod(error: z.ZodError, at: Path, known: readonly string[], sink: IssueSink): void {
  for (const issue of error.issues) {
    const path: Path = [...at, ...(issue.path as PathSegment[])];
    if (issue.code === 'unrecognized_keys') {
      const keysHere = issue.path.length === 0 ? known : undefined;
      for (const key of issue.keys) {
        const hint = keysHere ? suggest(key, keysHere) : '';
        sink.error([...path, key], `unknown key${hint}`);
      }
      continue;
    }
    sink.error(path, zodMessage(issue));
  }
}

function zodMessage(issue: z.core.$ZodIssue): string {
  const message = issue.message.replace(/^Invalid (input|option): /, '');
  if (issue.code === 'invalid_type' && issue.input === undefined)
    return `required: ${message.replace(/, received undefined$/, '')}`;
  return message;
}

/** `; did you mean "x"?` for a key within two edits of a known one. */
function suggest(key: string, known: readonly string[]): string {
  let best: string | undefined;
  let bestDistance = 3;
  for (const candidate of known) {
    const d = editDistance(key, candidate);
    if (d < bestDistance) [best, bestDistance] = [candidate, d];
  }
  return best ? `; did you mean ${best}?` : '';
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(
        prev[j]! + 1,
        cur[j - 1]! + 1,
        prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
    }
    prev = cur;
  }
  return prev[b.length]!;
}

/** A legacy route's `mcp.server.x` sits at `mcp.x` in the file. */
function underLegacyKeys(path: Path, legacyRoutes: ReadonlySet<number>): Path {
  if (path[0] === 'routes' && typeof path[1] === 'number' && legacyRoutes.has(path[1])) {
    if (path[2] === 'mcp' && path[3] === 'server') return [...path.slice(0, 3), ...path.slice(4)];
  }
  return path;
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}
