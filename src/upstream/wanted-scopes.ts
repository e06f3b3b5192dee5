/**
 * Scopes an upstream asked for (403 `insufficient_scope`, RFC 6750 §3.1) beyond what the user
 * granted, per user and route, until the user authorizes again: kept as an OAuth record for a
 * day (another replica may run that authorization), keyed by the hash of user and route.
 */
import type { OAuthStore } from '../storage/types.js';
import type { RouteUpstream } from './catalog.js';

const MODEL = 'UpstreamWantedScopes';
const TTL_MS = 24 * 3_600_000;

export class WantedScopes {
  constructor(
    private readonly oauth: OAuthStore,
    private readonly now: () => number,
  ) {}

  async remember(entry: RouteUpstream, sub: string, scopes: readonly string[]): Promise<void> {
    const all = [...new Set([...(await this.wanted(entry, sub)), ...scopes])];
    await this.oauth.upsert(MODEL, id(entry, sub), { scopes: all }, this.now() + TTL_MS);
  }

  async wanted(entry: RouteUpstream, sub: string): Promise<string[]> {
    const found = await this.oauth.find(MODEL, id(entry, sub), this.now());
    const scopes = found?.payload.scopes;
    return Array.isArray(scopes) ? scopes.filter((s): s is string => typeof s === 'string') : [];
  }
}

function id(entry: RouteUpstream, sub: string): string {
  return [sub, entry.routeKey, entry.client.upstreamKey].join('\0');
}
