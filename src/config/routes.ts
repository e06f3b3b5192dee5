import type { Policy } from '../policy/parse.js';
import { parseDuration } from './duration.js';
import type { IssueSink, Path } from './issues.js';
import type { RawRoute } from './schema.js';
import type {
  McpClientConfig,
  McpServerConfig,
  RouteConfig,
  UpstreamOauth2Config,
} from './types.js';

/** Cross-key rules for one route that already has the right shape. */
export function buildRoute(
  raw: RawRoute,
  index: number,
  policy: Policy,
  sink: IssueSink,
): RouteConfig | undefined {
  const at: Path = ['routes', index];
  const errorsBefore = sink.issues.length;
  const from = checkFrom(raw.from, at, sink);
  const to = (Array.isArray(raw.to) ? raw.to : [raw.to]).filter((url, i) =>
    checkUpstream(url, Array.isArray(raw.to) ? [...at, 'to', i] : [...at, 'to'], sink),
  );
  const match = checkMatch(raw, at, sink);
  const timeoutMs = duration(raw.timeout, [...at, 'timeout'], sink);
  const idleTimeoutMs = duration(raw.idle_timeout, [...at, 'idle_timeout'], sink);
  checkAccess(raw, at, sink);
  const mcp = raw.mcp ? buildMcp(raw.mcp, from, match, at, sink) : null;
  const failed = sink.issues.slice(errorsBefore).some((i) => i.severity === 'error');
  if (failed || from === undefined || match === undefined || mcp === undefined) return undefined;
  return {
    index,
    id: raw.id ?? null,
    from,
    to,
    name: raw.name ?? null,
    description: raw.description ?? null,
    logoUrl: raw.logo_url ?? null,
    match,
    prefixRewrite: raw.prefix_rewrite ?? null,
    preserveHostHeader: raw.preserve_host_header ?? false,
    // On for MCP routes unless turned off: the servers behind them (whoami) rely on the assertion.
    passIdentityHeaders: raw.pass_identity_headers ?? mcp !== null,
    allowAnyAuthenticatedUser: raw.allow_any_authenticated_user ?? false,
    allowPublicUnauthenticatedAccess: raw.allow_public_unauthenticated_access ?? false,
    policy,
    timeoutMs: timeoutMs ?? null,
    idleTimeoutMs: idleTimeoutMs ?? null,
    mcp,
  };
}

/** `from` is the route's origin: routing is by host, then by prefix/path/regex. */
function checkFrom(text: string, at: Path, sink: IssueSink): string | undefined {
  const url = parseUrl(text);
  const path = [...at, 'from'];
  if (!url || (url.protocol !== 'https:' && url.protocol !== 'http:')) {
    sink.error(
      path,
      `expected an absolute http(s) URL such as https://mcp.example.com, got ${JSON.stringify(text)}`,
    );
    return undefined;
  }
  if (url.pathname !== '/' || url.search !== '' || url.hash !== '' || url.username !== '') {
    sink.error(
      path,
      'expected a URL with no path, query or credentials; match paths with prefix, path or regex',
    );
    return undefined;
  }
  return url.origin;
}

function checkUpstream(text: string, path: Path, sink: IssueSink): boolean {
  const url = parseUrl(text);
  if (!url || (url.protocol !== 'https:' && url.protocol !== 'http:')) {
    sink.error(path, `expected an absolute http(s) upstream URL, got ${JSON.stringify(text)}`);
    return false;
  }
  return true;
}

function checkMatch(raw: RawRoute, at: Path, sink: IssueSink): RouteConfig['match'] | undefined {
  const given = (['prefix', 'path', 'regex'] as const).filter((k) => raw[k] !== undefined);
  if (given.length > 1) {
    for (const k of given.slice(1)) {
      sink.error(
        [...at, k],
        `only one of prefix, path or regex may be set (${given.join(' and ')} are)`,
      );
    }
    return undefined;
  }
  if (raw.prefix !== undefined) return { kind: 'prefix', prefix: raw.prefix };
  if (raw.path !== undefined) return { kind: 'path', path: raw.path };
  if (raw.regex !== undefined) {
    try {
      new RegExp(raw.regex);
    } catch (err) {
      sink.error(
        [...at, 'regex'],
        `expected a valid regular expression: ${(err as Error).message}`,
      );
      return undefined;
    }
    return { kind: 'regex', regex: raw.regex };
  }
  return { kind: 'any' };
}

function checkAccess(raw: RawRoute, at: Path, sink: IssueSink): void {
  const hasPolicy = raw.policy !== undefined && raw.policy !== null;
  if (raw.allow_public_unauthenticated_access) {
    for (const k of ['allow_any_authenticated_user', 'policy'] as const) {
      if (k === 'policy' ? hasPolicy : raw[k]) {
        sink.error([...at, k], 'cannot be combined with allow_public_unauthenticated_access');
      }
    }
    if (raw.mcp?.server) {
      sink.warn(
        [...at, 'allow_public_unauthenticated_access'],
        'an MCP server open to anyone, with no sign-in',
      );
    }
  } else if (!hasPolicy && !raw.allow_any_authenticated_user) {
    sink.warn(at, 'no policy and no allow_any_authenticated_user: every request will be denied');
  }
}

function duration(text: string | undefined, path: Path, sink: IssueSink): number | undefined {
  if (text === undefined) return undefined;
  const ms = parseDuration(text);
  if (ms === undefined)
    sink.error(path, `expected a duration such as 30s, 1m30s or 0, got ${JSON.stringify(text)}`);
  return ms;
}

function buildMcp(
  raw: NonNullable<RawRoute['mcp']>,
  from: string | undefined,
  match: RouteConfig['match'] | undefined,
  at: Path,
  sink: IssueSink,
): McpServerConfig | McpClientConfig | undefined {
  const path = [...at, 'mcp'];
  const hasServer = raw.server !== undefined;
  const hasClient = raw.client !== undefined;
  if (hasServer === hasClient) {
    sink.error(path, 'expected exactly one of server or client');
    return undefined;
  }
  if (hasClient) {
    return { kind: 'client' };
  }
  const server = raw.server ?? {};
  const serverPath = server.path ?? '/';
  if (!from || !match) return undefined;
  if (match.kind === 'regex') {
    sink.error(
      [...path, 'server'],
      'an MCP server route needs prefix or path (not regex) to derive its resource URL',
    );
    return undefined;
  }
  const base = match.kind === 'prefix' ? match.prefix : match.kind === 'path' ? match.path : '';
  const resourceUrl = (from + `${base}/${serverPath}`.replace(/\/{2,}/g, '/')).replace(/\/+$/, '');
  return {
    kind: 'server',
    path: serverPath,
    resourceUrl,
    maxRequestBytes: server.max_request_bytes ?? null,
    upstreamOauth2: server.upstream_oauth2 ? upstream(server.upstream_oauth2) : null,
    authorizationServerUrl: server.authorization_server_url ?? null,
  };
}

function upstream(
  raw: NonNullable<NonNullable<NonNullable<RawRoute['mcp']>['server']>['upstream_oauth2']>,
): UpstreamOauth2Config {
  return {
    clientId: raw.client_id,
    clientSecret: raw.client_secret ?? null,
    scopes: raw.scopes ?? [],
    authorizationUrlParams: raw.authorization_url_params ?? {},
    endpoint: raw.endpoint
      ? {
          authUrl: raw.endpoint.auth_url,
          tokenUrl: raw.endpoint.token_url,
          authStyle: raw.endpoint.auth_style ?? null,
          revocationUrl: raw.endpoint.revocation_url ?? null,
        }
      : null,
  };
}

function parseUrl(text: string): URL | undefined {
  try {
    return new URL(text);
  } catch {
    return undefined;
  }
}
