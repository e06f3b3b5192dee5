import { ConfigError } from './errors.js';

/** The process environment, or a test's stand-in for it. */
export type Env = Readonly<Record<string, string | undefined>>;

/** A positive integer from `env[name]`, or `fallback` when unset or empty. */
export function intFromEnv(env: Env, name: string, fallback: number, min = 1): number {
  const raw = env[name]?.trim();
  if (!raw) return fallback;
  if (!/^\d+$/.test(raw) || Number(raw) < min || !Number.isSafeInteger(Number(raw))) {
    throw new ConfigError(name, `expected an integer ≥ ${min}, got ${JSON.stringify(raw)}`);
  }
  return Number(raw);
}

/** A comma-separated list from `env[name]` (empty entries dropped), or `fallback` when unset. */
export function listFromEnv(env: Env, name: string, fallback: readonly string[]): string[] {
  const raw = env[name];
  if (raw === undefined || raw.trim() === '') return [...fallback];
  return splitList(raw);
}

/** `a, b,,c` → `['a', 'b', 'c']`: a comma-separated value, entries trimmed, empty ones dropped. */
export function splitList(raw: string): string[] {
  return raw
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

/** An absolute http(s) URL from `env[name]`, or undefined when unset. */
export function urlFromEnv(env: Env, name: string): URL | undefined {
  const raw = env[name]?.trim();
  if (!raw) return undefined;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ConfigError(name, `expected an absolute URL, got ${JSON.stringify(raw)}`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new ConfigError(name, `expected an http or https URL, got ${JSON.stringify(raw)}`);
  }
  return url;
}
