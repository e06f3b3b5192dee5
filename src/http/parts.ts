import type { Logger } from 'pino';
import type { ClientTokens } from '../apps/client-tokens.js';
import type { AssertionSigner } from '../assertion/sign.js';
import type { Config } from '../config/types.js';
import type { RequestTracer } from '../observe/types.js';
import type { McpAuthServer } from '../oauth/server.js';
import type { Observer } from '../observe/observer.js';
import type { Forwarder } from '../proxy/forward.js';
import type { Storage } from '../storage/types.js';
import type { UpstreamService } from '../upstream/service.js';
import type { SignIn } from './sign-in.js';

/** Everything built behind the listener that requests are served from. */
export interface GatewayParts {
  readonly config: Config;
  readonly logger: Logger;
  readonly scheme: 'http' | 'https';
  readonly storage: Storage;
  readonly signer: AssertionSigner;
  readonly signIn: SignIn;
  readonly forwarder: Forwarder;
  readonly trustedProxy: (address: string) => boolean;
  readonly mcpAuth: McpAuthServer | undefined;
  readonly upstream: UpstreamService | undefined;
  /** Client mode's tokens (absent: no `mcp.client` route, or no MCP server to reach). */
  readonly clientTokens: ClientTokens | undefined;
  /** What requests are reported to (absent: no metrics, no tracer: nothing is measured). */
  readonly observer: Observer | undefined;
  /** undefined: traces are off. */
  readonly tracer: RequestTracer | undefined;
}
