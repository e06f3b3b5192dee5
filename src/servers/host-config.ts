import { intFromEnv, listFromEnv } from '../core/env.js';
import { ConfigError } from '../core/errors.js';

type Env = Readonly<Record<string, string | undefined>>;

export interface HostConfig {
  /** Address(es) to listen on; `localhost` binds every loopback address it resolves to. */
  readonly host: string;
  readonly port: number;
  /** Lower-case `host` or `host:port` entries; `*` turns the check off. */
  readonly allowedHosts: readonly string[];
  /** Exact origins (`https://app.example.com`); empty means loopback origins only. */
  readonly allowedOrigins: readonly string[];
  readonly maxRequestBytes: number;
  readonly shutdownTimeoutMs: number;
}

export const LOOPBACK_HOSTS = ['localhost', '127.0.0.1', '[::1]', '::1'] as const;

export function hostConfigFromEnv(env: Env): HostConfig {
  const port = intFromEnv(env, 'PORT', 8080, 0);
  if (port > 65535) throw new ConfigError('PORT', `expected a port number 0-65535, got ${port}`);
  const allowedOrigins = listFromEnv(env, 'ALLOWED_ORIGINS', []);
  for (const origin of allowedOrigins) {
    if (origin === '*') continue;
    let parsed: URL | undefined;
    try {
      parsed = new URL(origin);
    } catch {
      parsed = undefined;
    }
    if (!parsed || parsed.origin !== origin) {
      throw new ConfigError(
        'ALLOWED_ORIGINS',
        `expected origins such as https://app.example.com (scheme, host, optional port; no path), got ${JSON.stringify(origin)}`,
      );
    }
  }
  return {
    host: env.HOST?.trim() || 'localhost',
    port,
    allowedHosts: listFromEnv(env, 'ALLOWED_HOSTS', LOOPBACK_HOSTS).map((h) => h.toLowerCase()),
    allowedOrigins,
    maxRequestBytes: intFromEnv(env, 'MAX_REQUEST_BYTES', 1024 * 1024),
    shutdownTimeoutMs: intFromEnv(env, 'SHUTDOWN_TIMEOUT_MS', 10_000),
  };
}

/** MCP "Security Warning": servers must check Host to stop DNS rebinding. */
export function isAllowedHost(config: HostConfig, hostHeader: string | undefined): boolean {
  if (config.allowedHosts.includes('*')) return true;
  if (!hostHeader) return false;
  const value = hostHeader.toLowerCase();
  const name = value.startsWith('[') ? value.slice(0, value.indexOf(']') + 1) : value.split(':')[0];
  return config.allowedHosts.includes(value) || config.allowedHosts.includes(name ?? '');
}

/**
 * MCP 2025-11-25 "Transports": servers MUST validate `Origin` and answer 403 when it is
 * present and not allowed. Without configured origins only loopback pages may call.
 */
export function isAllowedOrigin(config: HostConfig, origin: string): boolean {
  if (config.allowedOrigins.includes('*')) return true;
  if (config.allowedOrigins.length > 0) return config.allowedOrigins.includes(origin);
  let url: URL;
  try {
    url = new URL(origin);
  } catch {
    return false;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return false;
  return (LOOPBACK_HOSTS as readonly string[]).includes(url.hostname);
}
