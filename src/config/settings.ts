import { join } from 'node:path';
import { compileTrustedProxies } from '../net/trusted-proxies.js';
import { postgresOptionsProblem } from '../storage/postgres-options.js';
import type { Env } from '../core/env.js';
import type { IssueSink } from './issues.js';
import { parseAddress } from './address.js';
import { parseDuration } from './duration.js';
import { KNOWN_RUNTIME_FLAGS, OIDC_PROVIDERS } from './pomerium-keys.js';
import type { RawSettings } from './schema.js';
import { checkAutocert } from './autocert.js';
import { checkTls } from './tls.js';
import { buildMetrics } from './metrics.js';
import { buildTracing } from './tracing.js';
import type { Config, EdgeLimits, IdpConfig, StorageConfig } from './types.js';

type Settings = Omit<Config, 'source' | 'routes'>;

/** Cross-key rules for the top-level settings that already have the right shape. */
export function buildSettings(raw: RawSettings, env: Env, sink: IssueSink): Settings | undefined {
  const address = parseAddress(raw.address ?? ':443', 'address', sink);
  const insecureServer = raw.insecure_server ?? false;
  const autocert = checkAutocert(raw, env, sink);
  const tls =
    autocert === undefined ? undefined : checkTls(raw, insecureServer, address, autocert, sink);
  const shared = raw.databroker_storage_type === 'postgres';
  const sharedSecret = secret(raw.shared_secret, 'shared_secret', sink, shared);
  const cookieSecret = secret(raw.cookie_secret, 'cookie_secret', sink, shared);
  const signingKey = checkSigningKey(raw.signing_key, sink);
  const idp = buildIdp(raw, sink);
  const storage = buildStorage(raw, env, sink);
  const jwtClaimsHeaders = claimsHeaders(raw.jwt_claims_headers, sink);
  const edge = edgeLimits(raw, sink);
  const metrics = buildMetrics(raw, sink);
  const tracing = buildTracing(raw, env, sink);
  const flags = raw.runtime_flags ?? {};
  for (const flag of Object.keys(flags)) {
    if (flag === 'mcp_dynamic_client_registration') continue;
    sink.warn(
      ['runtime_flags', flag],
      KNOWN_RUNTIME_FLAGS.get(flag) ?? 'unknown runtime flag; ignored',
    );
  }
  const failed = metrics === false || tracing === undefined;
  if (!address || tls === undefined || !idp || !storage || !edge || failed) return undefined;
  return {
    address,
    addressAt: sink.locate(['address']),
    insecureServer,
    tls,
    sharedSecret,
    cookieSecret,
    signingKey,
    authenticateServiceUrl: raw.authenticate_service_url ?? null,
    idp,
    storage,
    jwtClaimsHeaders,
    logLevel: raw.log_level ?? 'info',
    metrics,
    runtimeFlags: { mcpDynamicClientRegistration: flags.mcp_dynamic_client_registration ?? true },
    edge,
    trustedProxies: trustedProxies(raw.trusted_proxies ?? [], sink),
    mcpAllowedClientIdDomains: (raw.mcp_allowed_client_id_domains ?? []).map((d) =>
      d.toLowerCase(),
    ),
    mcpAllowedAsMetadataDomains: (raw.mcp_allowed_as_metadata_domains ?? []).map((d) =>
      d.toLowerCase(),
    ),
    mcpAllowedPrivateHosts: (raw.mcp_allowed_private_hosts ?? []).map((h) => h.toLowerCase()),
    tracing,
  };
}

/**
 * Pomerium's `timeout_read` default (30 s); `timeout_idle` stays at 65 s rather than Pomerium's
 * 5 min (longer than the 60 s idle timeout of common load balancers, so they close first).
 */
const EDGE_DEFAULTS: EdgeLimits = {
  readTimeoutMs: 30_000,
  idleTimeoutMs: 65_000,
  // Browsers open at most 6 connections per host and MCP clients one or two per server; 256
  // leaves room for a few dozen people behind one NAT address.
  maxConnectionsPerAddress: 256,
};

function edgeLimits(raw: RawSettings, sink: IssueSink): EdgeLimits | undefined {
  const read = durationSetting(raw.timeout_read, 'timeout_read', sink);
  const idle = durationSetting(raw.timeout_idle, 'timeout_idle', sink);
  if (read === null || idle === null) return undefined;
  return {
    readTimeoutMs: read ?? EDGE_DEFAULTS.readTimeoutMs,
    idleTimeoutMs: idle ?? EDGE_DEFAULTS.idleTimeoutMs,
    maxConnectionsPerAddress:
      raw.max_connections_per_address ?? EDGE_DEFAULTS.maxConnectionsPerAddress,
  };
}

/** Milliseconds; undefined when unset, null (reported) when not a Go duration. */
function durationSetting(text: string | undefined, key: string, sink: IssueSink) {
  if (text === undefined) return undefined;
  const ms = parseDuration(text);
  if (ms !== undefined) return ms;
  sink.error([key], `expected a duration such as 30s, 1m30s or 0, got ${JSON.stringify(text)}`);
  return null;
}

/** Checked here so a bad entry is a config error with its line, not a crash at start. */
function trustedProxies(entries: readonly string[], sink: IssueSink): string[] {
  try {
    compileTrustedProxies(entries);
  } catch (err) {
    sink.error(['trusted_proxies'], `expected addresses or CIDR ranges: ${(err as Error).message}`);
  }
  return [...entries];
}

/** Pomerium's secrets are base64 of 32 random bytes (`head -c32 /dev/urandom | base64`). */
/** `shared`: replicas share the storage (PostgreSQL), so the secret must be set. */
function secret(
  value: string | undefined,
  key: string,
  sink: IssueSink,
  shared: boolean,
): string | null {
  if (value === undefined && shared) {
    // A generated secret is each process's own: cookies and stored tokens one replica made
    // would be unreadable to the others.
    sink.error(
      [key],
      'required with postgres storage: every replica must have the same one (a generated one would make each replica’s cookies and stored tokens unreadable to the others)',
      ['databroker_storage_type'],
    );
    return null;
  }
  if (value === undefined) {
    sink.warn(
      [key],
      'not set: a random one is generated at start, so sessions and stored tokens do not survive a restart and replicas cannot share them',
    );
    return null;
  }
  const bytes = /^[A-Za-z0-9+/_-]+={0,2}$/.test(value) ? Buffer.from(value, 'base64') : undefined;
  if (bytes?.length !== 32) {
    sink.error([key], 'expected base64 of 32 random bytes (head -c32 /dev/urandom | base64)');
  }
  return value;
}

function checkSigningKey(value: string | undefined, sink: IssueSink): string | null {
  if (value === undefined) {
    sink.warn(
      ['signing_key'],
      'not set: a key is generated at start, so identity assertions change keys on every restart',
    );
    return null;
  }
  const pem = Buffer.from(value, 'base64').toString('utf8');
  if (!/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(pem)) {
    sink.error(['signing_key'], 'expected a base64-encoded PEM private key (ES256 by default)');
  }
  return value;
}

function buildIdp(raw: RawSettings, sink: IssueSink): IdpConfig | undefined {
  let provider = raw.idp_provider;
  if (provider === undefined) {
    sink.warn(
      ['idp_provider'],
      'not set: using the built-in identity provider (Pomerium’s hosted authenticate service does not exist here)',
    );
    provider = 'builtin';
  } else if (OIDC_PROVIDERS.has(provider)) {
    sink.warn(
      ['idp_provider'],
      `"${provider}" is read as oidc: sign-in uses OIDC discovery at idp_provider_url`,
    );
    provider = 'oidc';
  }
  if (provider === 'builtin') {
    for (const k of [
      'idp_provider_url',
      'idp_client_id',
      'idp_client_secret',
      'idp_scopes',
    ] as const) {
      if (raw[k] !== undefined) sink.warn([k], 'ignored with the built-in identity provider');
    }
    if (!raw.builtin_users?.length)
      sink.warn(['builtin_users'], 'no users: nobody can sign in until users are added');
    const users = (raw.builtin_users ?? []).map((u) => ({
      email: u.email,
      name: u.name ?? null,
      groups: u.groups ?? [],
      passwordHash: u.password_hash,
    }));
    return { provider: 'builtin', users };
  }
  if (provider !== 'oidc') {
    sink.error(
      ['idp_provider'],
      `expected oidc (any OpenID Connect provider) or builtin, got ${JSON.stringify(provider)}`,
    );
    return undefined;
  }
  if (raw.builtin_users !== undefined)
    sink.warn(['builtin_users'], 'ignored unless idp_provider is builtin');
  let ok = true;
  for (const k of ['idp_provider_url', 'idp_client_id'] as const) {
    if (raw[k] === undefined) {
      sink.error([k], 'required when idp_provider is oidc', ['idp_provider']);
      ok = false;
    }
  }
  if (!ok) return undefined;
  return {
    provider: 'oidc',
    providerUrl: raw.idp_provider_url!,
    clientId: raw.idp_client_id!,
    clientSecret: raw.idp_client_secret ?? null,
    scopes: raw.idp_scopes ?? ['openid', 'profile', 'email', 'offline_access'],
  };
}

function buildStorage(raw: RawSettings, env: Env, sink: IssueSink): StorageConfig | undefined {
  const type = raw.databroker_storage_type ?? 'sqlite';
  const conn = raw.databroker_storage_connection_string;
  switch (type) {
    case 'memory':
      if (conn !== undefined)
        sink.warn(['databroker_storage_connection_string'], 'ignored with memory storage');
      sink.warn(
        ['databroker_storage_type'],
        'memory: sessions and tokens are lost on restart and replicas cannot share them',
      );
      return { type };
    case 'sqlite':
      if (conn !== undefined && /^[a-z][a-z0-9+.-]*:\/\//i.test(conn)) {
        sink.error(
          ['databroker_storage_connection_string'],
          'expected a file path for sqlite storage, got a URL',
        );
        return undefined;
      }
      return { type, file: conn ?? join(env.PORTCULLIS_DATA_DIR ?? 'data', 'portcullis.db') };
    case 'postgres':
      if (conn === undefined) {
        sink.error(
          ['databroker_storage_connection_string'],
          'required for postgres storage: a postgresql:// URL',
          ['databroker_storage_type'],
        );
        return undefined;
      }
      if (!/^postgres(ql)?:\/\//i.test(conn)) {
        sink.error(
          ['databroker_storage_connection_string'],
          'expected a postgresql:// URL for postgres storage',
        );
        return undefined;
      }
      return postgresStorage(conn, sink);
  }
}

/** The pool, deadline and TLS options in the URL are checked here too, for `portcullis check`. */
function postgresStorage(connectionString: string, sink: IssueSink): StorageConfig | undefined {
  const problem = postgresOptionsProblem(connectionString);
  if (problem === undefined) return { type: 'postgres', connectionString };
  sink.error(['databroker_storage_connection_string'], problem);
  return undefined;
}

const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/; // RFC 9110 §5.6.2 token

function claimsHeaders(
  raw: RawSettings['jwt_claims_headers'],
  sink: IssueSink,
): Record<string, string> {
  if (raw === undefined) return {};
  const entries = Array.isArray(raw)
    ? raw.map((claim) => [`X-Pomerium-Claim-${claim}`, claim] as const)
    : Object.entries(raw);
  for (const [header] of entries) {
    if (!HEADER_NAME.test(header))
      sink.error(['jwt_claims_headers', header], 'expected an HTTP header name');
  }
  return Object.fromEntries(entries);
}
