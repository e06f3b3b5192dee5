/**
 * Environment overrides, Pomerium's way: every top-level setting can be given as an
 * environment variable named after the key, upper-cased (`shared_secret` → `SHARED_SECRET`).
 * A variable that is set and non-empty wins over the file.
 */
import { splitList, type Env } from '../core/env.js';

const BOOLEAN_KEYS = new Set(['insecure_server', 'autocert', 'autocert_use_staging']);
const LIST_KEYS = new Set([
  'idp_scopes',
  'mcp_allowed_client_id_domains',
  'mcp_allowed_as_metadata_domains',
  'mcp_allowed_private_hosts',
  'trusted_proxies',
]);
const INTEGER_KEYS = new Set(['max_connections_per_address']);

/** The settings that can come from the environment (routes and nested maps cannot). */
export const ENV_KEYS: readonly string[] = [
  'address',
  'insecure_server',
  'shared_secret',
  'cookie_secret',
  'signing_key',
  'authenticate_service_url',
  'idp_provider',
  'idp_provider_url',
  'idp_client_id',
  'idp_client_secret',
  'idp_scopes',
  'databroker_storage_type',
  'databroker_storage_connection_string',
  'certificate_file',
  'certificate_key_file',
  'certificate',
  'certificate_key',
  'http_redirect_addr',
  'autocert',
  'autocert_ca',
  'autocert_use_staging',
  'autocert_email',
  'autocert_dir',
  'autocert_trusted_ca',
  'autocert_trusted_ca_file',
  'jwt_claims_headers',
  'log_level',
  'mcp_allowed_client_id_domains',
  'mcp_allowed_as_metadata_domains',
  'mcp_allowed_private_hosts',
  'trusted_proxies',
  'timeout_read',
  'timeout_idle',
  'max_connections_per_address',
];

export interface EnvOverrides {
  /** The settings with the overrides applied. */
  readonly settings: Record<string, unknown>;
  /** Setting key → the variable its value came from. */
  readonly sources: ReadonlyMap<string, string>;
}

export function applyEnv(settings: Record<string, unknown>, env: Env): EnvOverrides {
  const out = { ...settings };
  const sources = new Map<string, string>();
  for (const key of ENV_KEYS) {
    const name = key.toUpperCase();
    const raw = env[name];
    if (raw === undefined || raw.trim() === '') continue;
    out[key] = convert(key, raw.trim());
    sources.set(key, name);
  }
  return { settings: out, sources };
}

function convert(key: string, raw: string): unknown {
  if (BOOLEAN_KEYS.has(key)) return parseBool(raw) ?? raw;
  if (LIST_KEYS.has(key)) return splitList(raw);
  if (INTEGER_KEYS.has(key)) return /^\d+$/.test(raw) ? Number(raw) : raw;
  if (key === 'jwt_claims_headers') {
    // `X-Email=email,X-Groups=groups` is a map; `email,groups` is a list of claims.
    const items = splitList(raw);
    if (!items.some((i) => i.includes('='))) return items;
    return Object.fromEntries(items.map((i) => i.split('=', 2).map((s) => s.trim())));
  }
  return raw;
}

/** The spellings Go's `strconv.ParseBool` (and so Pomerium) accepts. */
function parseBool(raw: string): boolean | undefined {
  if (['1', 't', 'T', 'true', 'TRUE', 'True'].includes(raw)) return true;
  if (['0', 'f', 'F', 'false', 'FALSE', 'False'].includes(raw)) return false;
  return undefined;
}
