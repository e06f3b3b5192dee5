import type { Logger } from 'pino';
import type { AutocertTuning } from '../tls/acme.js';
import type { Config } from '../config/types.js';
import type { Observer } from '../observe/observer.js';
import type { createMcpAuthServer } from '../oauth/server.js';
import type { Lifetimes } from '../oauth/provider.js';
import type { CimdFetchOptions } from '../oauth/cimd.js';
import type { UpstreamServiceOptions } from '../upstream/service.js';

export interface GatewayOptions {
  readonly config: Config;
  readonly logger: Logger;
  /** Addresses whose X-Forwarded-* headers are believed (addresses or CIDR ranges). */
  readonly trustedProxies?: readonly string[];
  /** Tuning of the OAuth server for MCP clients (tests; defaults suit production). */
  readonly oauth?: {
    readonly lifetimes?: Partial<Lifetimes>;
    readonly rateLimits?: Parameters<typeof createMcpAuthServer>[0]['rateLimits'];
    readonly cimdFetch?: Omit<CimdFetchOptions, 'allowPrivateHosts'>;
    readonly clientNeverUsedTtlMs?: number;
    readonly clientUnusedTtlMs?: number;
  };
  /** Tuning of the upstream-token vault for tests (a clock, discovery's CA and resolver). */
  readonly upstream?: Pick<UpstreamServiceOptions, 'now' | 'client'> & {
    readonly fetch?: Omit<UpstreamServiceOptions['discovery']['fetch'], 'allowPrivateHosts'>;
  };
  /** Tuning of sign-in for tests: the clock of sign-in across hosts. */
  readonly signIn?: { readonly handoffClock?: () => number };
  /** Tuning of automatic certificates for tests (how often, how fast, the clock). */
  readonly autocert?: AutocertTuning;
  /**
   * Keep answering 503 (health checks too) after start until `markReady()`: for a caller that
   * still has start-up work the gateway depends on (`portcullis dev` creates its user).
   */
  readonly holdReadiness?: boolean;
  /** Told of what requests do, beside the metrics `metrics_address` turns on (tracing, tests). */
  readonly observer?: Observer;
}
