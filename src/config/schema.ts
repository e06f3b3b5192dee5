/**
 * The shape of the config file, with Pomerium's key names. Only types and local formats are
 * checked here; rules that span several keys live in `settings.ts` and `routes.ts`.
 */
import { isIP } from 'node:net';
import { z } from 'zod';

const HOST_NAME = /^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$/i;

const httpUrl = z.string().refine(
  (s) => {
    try {
      const u = new URL(s);
      return u.protocol === 'https:' || u.protocol === 'http:';
    } catch {
      return false;
    }
  },
  { error: 'expected an absolute http(s) URL' },
);
const text = z.string().min(1, { error: 'expected a non-empty string' });
const absPath = z.string().startsWith('/', { error: 'expected a path starting with /' });
const strings = z.array(z.string());
/** `example.com` (that host) or `*.example.com` (its subdomains). */
const hostPatterns = z.array(
  z.string().regex(/^(\*\.)?[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$/i, {
    error: 'expected a host name such as chatgpt.com or *.example.com',
  }),
);

export const upstreamOauth2Schema = z.strictObject({
  client_id: text,
  client_secret: z.string().optional(),
  scopes: strings.optional(),
  authorization_url_params: z.record(z.string(), z.string()).optional(),
  /** Absent: the upstream's authorization server is discovered (RFC 9728, RFC 8414). */
  endpoint: z
    .strictObject({
      auth_url: httpUrl,
      token_url: httpUrl,
      auth_style: z.enum(['header', 'params']).optional(),
      /** Ours (Pomerium's endpoint has none): RFC 7009, for disconnect to revoke at the provider. */
      revocation_url: httpUrl.optional(),
    })
    .optional(),
});

export const mcpServerSchema = z.strictObject({
  path: absPath.optional(),
  max_request_bytes: z.int().positive().optional(),
  upstream_oauth2: upstreamOauth2Schema.optional(),
  authorization_server_url: httpUrl.optional(),
});

export const mcpSchema = z.strictObject({
  server: mcpServerSchema.nullish(),
  client: z.strictObject({}).nullish(),
});

export const routeSchema = z.strictObject({
  /** Pomerium's route id: names the route in stored upstream tokens where given. */
  id: text.optional(),
  from: text,
  to: z.union([text, z.array(text).min(1)], {
    error: 'expected a URL or a non-empty list of URLs',
  }),
  name: z.string().optional(),
  description: z.string().optional(),
  logo_url: z.string().optional(),
  prefix: absPath.optional(),
  path: absPath.optional(),
  regex: text.optional(),
  prefix_rewrite: z.string().optional(),
  pass_identity_headers: z.boolean().optional(),
  preserve_host_header: z.boolean().optional(),
  allow_any_authenticated_user: z.boolean().optional(),
  allow_public_unauthenticated_access: z.boolean().optional(),
  /** Parsed by `policy/parse.ts`, which reports its own errors. */
  policy: z.unknown().optional(),
  timeout: text.optional(),
  idle_timeout: text.optional(),
  mcp: mcpSchema.optional(),
});

export const builtinUserSchema = z.strictObject({
  email: z.email({ error: 'expected an email address' }),
  name: z.string().optional(),
  groups: strings.optional(),
  password_hash: text,
});

export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal'] as const;

export const settingsSchema = z.strictObject({
  address: text.optional(),
  insecure_server: z.boolean().optional(),
  shared_secret: text.optional(),
  cookie_secret: text.optional(),
  signing_key: text.optional(),
  authenticate_service_url: httpUrl.optional(),
  idp_provider: text.optional(),
  idp_provider_url: httpUrl.optional(),
  idp_client_id: text.optional(),
  idp_client_secret: text.optional(),
  idp_scopes: strings.optional(),
  builtin_users: z.array(builtinUserSchema).optional(),
  databroker_storage_type: z.enum(['memory', 'sqlite', 'postgres']).optional(),
  databroker_storage_connection_string: text.optional(),
  certificate_file: text.optional(),
  certificate_key_file: text.optional(),
  /** base64 of PEM text (Pomerium's meaning), not the PEM itself. */
  certificate: text.optional(),
  certificate_key: text.optional(),
  /** File paths, as Pomerium's `certificates` entries. */
  certificates: z.array(z.strictObject({ cert: text, key: text })).optional(),
  /** Plain HTTP for ACME challenges and redirects to HTTPS, such as `:80`. */
  http_redirect_addr: text.optional(),
  autocert: z.boolean().optional(),
  autocert_ca: httpUrl.optional(),
  autocert_use_staging: z.boolean().optional(),
  autocert_email: text.optional(),
  autocert_dir: text.optional(),
  /** base64 of PEM text (Pomerium's meaning): the CA of a private ACME server. */
  autocert_trusted_ca: text.optional(),
  /** Ours: the same as a path. */
  autocert_trusted_ca_file: text.optional(),
  jwt_claims_headers: z
    .union([strings, z.record(z.string(), z.string())], {
      error: 'expected a list of claim names or a map of header name to claim name',
    })
    .optional(),
  log_level: z.enum(LOG_LEVELS).optional(),
  /** Prometheus metrics on a listener of their own (`host:port`); absent: no metrics. */
  metrics_address: text.optional(),
  /** base64 of `user:pass` (Pomerium's meaning): the credentials `/metrics` asks for. */
  metrics_basic_auth: text.optional(),
  runtime_flags: z.record(z.string(), z.boolean()).optional(),
  /** Pomerium's global timeouts (Go durations); `timeout_write` is not supported. */
  timeout_read: text.optional(),
  timeout_idle: text.optional(),
  /** Open connections one client address may hold at once; 0: no cap (our extension). */
  max_connections_per_address: z.int().nonnegative().optional(),
  /** Peers whose X-Forwarded-* headers are believed: addresses or CIDR ranges (our extension). */
  trusted_proxies: z.array(z.string()).optional(),
  /** Hosts whose Client ID Metadata Documents MCP clients may use (`*.example.com` for subdomains). */
  mcp_allowed_client_id_domains: hostPatterns.optional(),
  /** Pomerium's: the authorization servers of discovered upstreams (empty: any public host). */
  mcp_allowed_as_metadata_domains: hostPatterns.optional(),
  /**
   * Hosts the gateway may fetch from although they are at private, loopback or other
   * non-public addresses (our extension; development and tests). Exact names or IP addresses.
   */
  mcp_allowed_private_hosts: z
    .array(
      z.string().refine((h) => isIP(h.replace(/^\[(.*)\]$/, '$1')) !== 0 || HOST_NAME.test(h), {
        error: 'expected a host name such as localhost, or an IP address',
      }),
    )
    .optional(),
  /** OpenTelemetry traces (`config/tracing.ts`): Pomerium's keys, durations in milliseconds. */
  otel_traces_exporter: text.optional(),
  otel_traces_sampler_arg: z.number().min(0).max(1).optional(),
  otel_exporter_otlp_endpoint: httpUrl.optional(),
  otel_exporter_otlp_traces_endpoint: httpUrl.optional(),
  otel_exporter_otlp_protocol: text.optional(),
  otel_exporter_otlp_traces_protocol: text.optional(),
  otel_exporter_otlp_headers: strings.optional(),
  otel_exporter_otlp_traces_headers: strings.optional(),
  otel_exporter_otlp_timeout: z.int().positive().optional(),
  otel_exporter_otlp_traces_timeout: z.int().positive().optional(),
  otel_bsp_schedule_delay: z.int().positive().optional(),
  otel_bsp_max_export_batch_size: z.int().positive().optional(),
  otel_resource_attributes: strings.optional(),
  otel_attribute_value_length_limit: z.int().positive().optional(),
  /** Ours (Pomerium reads only `OTEL_SERVICE_NAME`): the `service.name` of every span. */
  otel_service_name: text.optional(),
  /** Each route is checked against `routeSchema` on its own, so one bad route hides nothing. */
  routes: z.array(z.unknown()).optional(),
});

export type RawSettings = z.output<typeof settingsSchema>;
export type RawRoute = z.output<typeof routeSchema>;

/** Every top-level key we read; env overrides use the same names, upper-cased. */
export const SETTING_KEYS = Object.keys(settingsSchema.shape) as (keyof RawSettings)[];
export const ROUTE_KEYS = Object.keys(routeSchema.shape) as (keyof RawRoute)[];
