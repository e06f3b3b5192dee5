import type { Policy } from '../policy/parse.js';
import type { IssueLocation } from './issues.js';

/** The gateway's configuration, validated and frozen. Field names are camelCase inside. */
export interface Config {
  /** Where the config came from (a file path, or a label for text). */
  readonly source: string;
  /** `host:port`; an empty host means every interface. */
  readonly address: Address;
  /** Where `address` was set (or, unset, where it belongs), for a bind that fails at start. */
  readonly addressAt: IssueLocation;
  readonly insecureServer: boolean;
  /** null: plain HTTP (`insecure_server`, or no certificate configured: the gateway refuses). */
  readonly tls: TlsConfig | null;
  /** base64 of 32 random bytes; null: generated at start (sessions do not survive restarts). */
  readonly sharedSecret: string | null;
  readonly cookieSecret: string | null;
  /** base64 of a PEM private key; null: a key is generated at start. */
  readonly signingKey: string | null;
  readonly authenticateServiceUrl: string | null;
  readonly idp: IdpConfig;
  readonly storage: StorageConfig;
  /** Header name → claim name. */
  readonly jwtClaimsHeaders: Readonly<Record<string, string>>;
  readonly logLevel: LogLevel;
  /** `metrics_address` and `metrics_basic_auth`; null: no metrics (docs/observability.md). */
  readonly metrics: MetricsConfig | null;
  readonly runtimeFlags: { readonly mcpDynamicClientRegistration: boolean };
  /** Client-side limits of the listener (docs/configuration-gateway.md, "Timeouts and limits"). */
  readonly edge: EdgeLimits;
  /** `trusted_proxies`: peers whose X-Forwarded-* headers are believed (none by default). */
  readonly trustedProxies: readonly string[];
  /** `mcp_allowed_client_id_domains`: empty means Client ID Metadata Documents are refused. */
  readonly mcpAllowedClientIdDomains: readonly string[];
  /** `mcp_allowed_as_metadata_domains`: discovered upstreams' authorization servers (empty: any). */
  readonly mcpAllowedAsMetadataDomains: readonly string[];
  /** `mcp_allowed_private_hosts`: fetched although at non-public addresses (none by default). */
  readonly mcpAllowedPrivateHosts: readonly string[];
  /** `otel_traces_exporter: otlp` (or `OTEL_TRACES_EXPORTER=otlp`); null: traces are off. */
  readonly tracing: TracingConfig | null;
  readonly routes: readonly RouteConfig[];
}

/** An address to listen on, and where it was set: a bind that fails at start is reported there. */
export interface ListenerSetting {
  readonly address: Address;
  readonly at: IssueLocation;
}

/** `metrics_address` (`at` is where it was set) and `metrics_basic_auth`. */
export interface MetricsConfig extends ListenerSetting {
  /** base64 of `user:pass`, as configured; null: `/metrics` is open to whoever reaches it. */
  readonly basicAuth: string | null;
}

/** `host:port`; an empty host means every interface. */
export interface Address {
  readonly host: string;
  readonly port: number;
}

export interface TlsConfig {
  /**
   * In Pomerium's order: `certificate`, then `certificates` in order, then `certificate_file`.
   * Each connection gets the one whose names match the host it asks for (SNI); the first is
   * served when none does, or when the client names no host.
   */
  readonly certificates: readonly CertificateSource[];
  /** `autocert`: certificates from an ACME CA for every route host (null: off). */
  readonly autocert: AutocertConfig | null;
  /**
   * `http_redirect_addr`: plain HTTP answering ACME challenges, redirecting the rest (`:80`
   * when autocert is on and it is not given).
   */
  readonly httpRedirect: ListenerSetting | null;
}

export interface AutocertConfig {
  /** The ACME (RFC 8555) directory: `autocert_ca`, else Let's Encrypt (`autocert_use_staging`). */
  readonly directoryUrl: string;
  /** `autocert_email`: the account's contact (null: none). */
  readonly email: string | null;
  /** `autocert_dir`: the local copy of the certificates (storage is the source of truth). */
  readonly cacheDir: string;
  /** The CA of the ACME server's own HTTPS certificate, trusted besides the public roots. */
  readonly trustedCa:
    | { readonly kind: 'inline'; readonly pem: string }
    | { readonly kind: 'file'; readonly file: string; readonly at: IssueLocation }
    | null;
}

/** One configured certificate; `at` says where its two halves were given, for start-up errors. */
export type CertificateSource =
  | {
      readonly kind: 'files';
      readonly certFile: string;
      readonly keyFile: string;
      readonly at: CertificateSourceAt;
    }
  | {
      /** `certificate` / `certificate_key`: PEM, decoded from base64 and checked already. */
      readonly kind: 'inline';
      readonly certPem: string;
      readonly keyPem: string;
      readonly at: CertificateSourceAt;
    };

export interface CertificateSourceAt {
  readonly cert: IssueLocation;
  readonly key: IssueLocation;
}

export interface EdgeLimits {
  /**
   * `timeout_read`: request headers, and a body the gateway reads itself, must arrive within
   * this; a body streamed to an upstream may not pause longer than this. 0 disables.
   */
  readonly readTimeoutMs: number;
  /** `timeout_idle`: a keep-alive connection with no request in flight is closed after this. */
  readonly idleTimeoutMs: number;
  /** `max_connections_per_address`: 0 means no cap; trusted proxies are never capped. */
  readonly maxConnectionsPerAddress: number;
}

/** OTLP/HTTP trace export (docs/observability.md, "Traces"). */
export interface TracingConfig {
  /** The traces URL; null: the exporter's (`OTEL_EXPORTER_OTLP_*`, else localhost:4318). */
  readonly url: string | null;
  /** Sent with every export, over those of `OTEL_EXPORTER_OTLP_HEADERS`. */
  readonly headers: Readonly<Record<string, string>>;
  readonly serviceName: string;
  /** Of the traces this gateway starts (a client's sampled flag is followed). */
  readonly samplerRatio: number;
  /** null: the SDK's defaults (10 s, 5 s, 512). */
  readonly timeoutMs: number | null;
  readonly scheduleDelayMs: number | null;
  readonly maxExportBatchSize: number | null;
  readonly resourceAttributes: Readonly<Record<string, string>>;
  readonly attributeValueLengthLimit: number | null;
}

export type LogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal';

export type IdpConfig =
  | {
      readonly provider: 'oidc';
      readonly providerUrl: string;
      readonly clientId: string;
      readonly clientSecret: string | null;
      readonly scopes: readonly string[];
    }
  | { readonly provider: 'builtin'; readonly users: readonly BuiltinUser[] };

export interface BuiltinUser {
  readonly email: string;
  readonly name: string | null;
  readonly groups: readonly string[];
  readonly passwordHash: string;
}

export type StorageConfig =
  | { readonly type: 'memory' }
  | { readonly type: 'sqlite'; readonly file: string }
  | { readonly type: 'postgres'; readonly connectionString: string };

export interface RouteConfig {
  /** 0-based position in `routes`, for messages. */
  readonly index: number;
  /** `id`: a stable name for the route (upstream tokens are stored under it); null: none. */
  readonly id: string | null;
  readonly from: string;
  readonly to: readonly string[];
  readonly name: string | null;
  readonly description: string | null;
  readonly logoUrl: string | null;
  readonly match:
    | { readonly kind: 'prefix'; readonly prefix: string }
    | { readonly kind: 'path'; readonly path: string }
    | { readonly kind: 'regex'; readonly regex: string }
    | { readonly kind: 'any' };
  readonly prefixRewrite: string | null;
  /** Send the client's Host upstream instead of the host of `to`. */
  readonly preserveHostHeader: boolean;
  readonly passIdentityHeaders: boolean;
  readonly allowAnyAuthenticatedUser: boolean;
  readonly allowPublicUnauthenticatedAccess: boolean;
  readonly policy: Policy;
  /** Milliseconds; null: the gateway default. 0 disables the timeout. */
  readonly timeoutMs: number | null;
  readonly idleTimeoutMs: number | null;
  readonly mcp: McpServerConfig | McpClientConfig | null;
}

export interface McpServerConfig {
  readonly kind: 'server';
  readonly path: string;
  /** `from` + (`prefix` or `path`) + `mcp.server.path`, without a trailing slash. */
  readonly resourceUrl: string;
  readonly maxRequestBytes: number | null;
  readonly upstreamOauth2: UpstreamOauth2Config | null;
  readonly authorizationServerUrl: string | null;
}

export interface McpClientConfig {
  readonly kind: 'client';
}

export interface UpstreamOauth2Config {
  readonly clientId: string;
  readonly clientSecret: string | null;
  readonly scopes: readonly string[];
  readonly authorizationUrlParams: Readonly<Record<string, string>>;
  /** The provider's URLs; null: discovered from the upstream (a pre-registered client). */
  readonly endpoint: {
    readonly authUrl: string;
    readonly tokenUrl: string;
    readonly authStyle: 'header' | 'params' | null;
    /** RFC 7009 revocation endpoint (ours; null: tokens are deleted without revoking). */
    readonly revocationUrl: string | null;
  } | null;
}
