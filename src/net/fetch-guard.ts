/**
 * Outgoing fetches on behalf of clients (Client ID Metadata Documents, the `jwks_uri` they
 * name) must not reach the gateway's own network: the address is checked before a socket is
 * opened, not after (a refusal after connecting still maps which internal ports are open).
 * The connector resolves the name itself and connects to the address it checked, so a DNS
 * answer that changes between check and connect (rebinding) cannot slip through.
 */
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { BlockList, isIP } from 'node:net';
import { buildConnector } from 'undici';

/**
 * IANA special-purpose registries (RFC 6890 and successors): nothing here is a public host.
 * IPv4: this network, private (RFC 1918), CGNAT (RFC 6598), loopback, link-local, protocol
 * assignments, documentation, AS112, AMT, 6to4 relay, benchmarking, multicast, reserved and
 * broadcast.
 */
const NON_PUBLIC_V4: readonly [string, number][] = [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.0.2.0', 24],
  ['192.31.196.0', 24],
  ['192.52.193.0', 24],
  ['192.88.99.0', 24],
  ['192.168.0.0', 16],
  ['192.175.48.0', 24],
  ['198.18.0.0', 15],
  ['198.51.100.0', 24],
  ['203.0.113.0', 24],
  ['224.0.0.0', 4],
  ['240.0.0.0', 4],
];
/**
 * IPv6: only global unicast (2000::/3, RFC 4291 §2.4) can be public, which leaves out
 * unspecified, loopback, IPv4-mapped and -compatible, NAT64, discard, unique local, link-local,
 * site-local and multicast; inside it, protocol assignments (Teredo…), documentation, 6to4
 * (it embeds any IPv4 address) and AS112.
 */
const NON_PUBLIC_V6: readonly [string, number][] = [
  ['2001::', 23],
  ['2001:db8::', 32],
  ['2002::', 16],
  ['2620:4f:8000::', 48],
  ['3fff::', 20],
];

const nonPublic = new BlockList();
for (const [net, prefix] of NON_PUBLIC_V4) nonPublic.addSubnet(net, prefix, 'ipv4');
for (const [net, prefix] of NON_PUBLIC_V6) nonPublic.addSubnet(net, prefix, 'ipv6');
const globalUnicast = new BlockList();
globalUnicast.addSubnet('2000::', 3, 'ipv6');

/** True only for an IP address a public host can have. */
export function isPublicAddress(address: string): boolean {
  const family = isIP(address);
  if (family === 4) return !nonPublic.check(address, 'ipv4');
  if (family === 6)
    return globalUnicast.check(address, 'ipv6') && !nonPublic.check(address, 'ipv6');
  return false;
}

/** `[::1]` → `::1`; names lower-cased without a trailing dot; IPv4 forms as the URL parser reads them. */
export function canonicalHost(host: string): string {
  const bare = host.replace(/^\[(.*)\]$/, '$1');
  const bracketed = isIP(bare) === 6 ? `[${bare}]` : bare;
  const parsed = URL.canParse(`https://${bracketed}/`)
    ? new URL(`https://${bracketed}/`).hostname
    : bare.toLowerCase();
  return parsed.replace(/^\[(.*)\]$/, '$1').replace(/\.$/, '');
}

export type Lookup = (hostname: string) => Promise<readonly LookupAddress[]>;

const systemLookup: Lookup = (hostname) =>
  new Promise((resolve, reject) =>
    dnsLookup(hostname, { all: true, verbatim: true }, (err, addresses) =>
      err ? reject(err) : resolve(addresses),
    ),
  );

export class NonPublicAddressError extends Error {
  readonly code = 'ERR_NON_PUBLIC_ADDRESS';
  constructor(hostname: string, address: string) {
    super(`${hostname} is at a non-public address (${address}); refused before connecting`);
    this.name = 'NonPublicAddressError';
  }
}

/**
 * The address to connect to for `hostname`: the literal itself, or the first address it
 * resolves to. Every address must be public (a name with one private answer among public
 * ones is refused), unless the host is named in `bypass`.
 */
export async function checkedAddress(
  hostname: string,
  bypass: ReadonlySet<string>,
  lookup: Lookup = systemLookup,
): Promise<string> {
  const host = canonicalHost(hostname);
  const addresses = isIP(host) ? [host] : (await lookup(host)).map((a) => a.address);
  const first = addresses[0];
  if (first === undefined) throw new Error(`${hostname} has no address`);
  if (bypass.has(host)) return first;
  const refused = addresses.find((a) => !isPublicAddress(a));
  if (refused !== undefined) throw new NonPublicAddressError(hostname, refused);
  return first;
}

export interface GuardOptions {
  /** Canonical host names (or addresses) exempt from the check: `mcp_allowed_private_hosts`. */
  readonly bypass: ReadonlySet<string>;
  /** Extra TLS options (a test CA). */
  readonly tls?: buildConnector.BuildOptions;
  readonly lookup?: Lookup;
}

/**
 * An undici connector that checks the address first. The TLS server name and the `Host`
 * header stay the URL's (undici derives both from `host`); only the socket's target changes.
 */
export function guardedConnector(options: GuardOptions): buildConnector.connector {
  const connect = buildConnector({ ...options.tls });
  return (opts, callback) => {
    checkedAddress(opts.hostname, options.bypass, options.lookup).then(
      (address) => connect({ ...opts, hostname: address }, callback),
      (err: Error) => callback(err, null),
    );
  };
}
