/** The metrics listener's settings (docs/observability.md). */
import { parseAddress } from './address.js';
import type { IssueSink } from './issues.js';
import type { RawSettings } from './schema.js';
import type { MetricsConfig } from './types.js';

/** `metrics_address` and `metrics_basic_auth`; false when they are wrong (reported). */
export function buildMetrics(raw: RawSettings, sink: IssueSink): MetricsConfig | null | false {
  const auth = raw.metrics_basic_auth;
  if (raw.metrics_address === undefined) {
    if (auth !== undefined) sink.warn(['metrics_basic_auth'], 'ignored without metrics_address');
    return null;
  }
  const address = parseAddress(raw.metrics_address, 'metrics_address', sink);
  // RFC 7617 §2: user-id ":" password, base64 (Pomerium takes it encoded, as the header has it).
  const decoded = auth === undefined ? '' : Buffer.from(auth, 'base64').toString('utf8');
  const valid =
    auth === undefined || (/^[A-Za-z0-9+/]+={0,2}$/.test(auth) && decoded.includes(':'));
  if (!valid) sink.error(['metrics_basic_auth'], 'expected base64 of user:password');
  if (!address || !valid) return false;
  return { address, at: sink.locate(['metrics_address']), basicAuth: auth ?? null };
}
