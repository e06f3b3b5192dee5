/**
 * Which peers may speak for other clients (X-Forwarded-*): addresses and CIDR ranges, compiled
 * once. Below config (which validates the list at load) and the proxy (which applies it), so
 * neither imports the other; node:net's BlockList does the matching, which keeps it out of core.
 */
import { BlockList, isIP } from 'node:net';

/** `::ffff:10.0.0.1` (an IPv4 peer on a dual-stack socket) → `10.0.0.1`. */
export function normalizeAddress(address: string): string {
  if (address.startsWith('::ffff:') && isIP(address.slice(7)) === 4) return address.slice(7);
  return address;
}

/**
 * A predicate over peer addresses from a list of addresses and CIDR ranges (`10.0.0.0/8`,
 * `::1`, `fd00::/8`). Throws on a malformed entry, so configuration fails at start-up.
 */
export function compileTrustedProxies(entries: readonly string[]): (address: string) => boolean {
  if (entries.length === 0) return () => false;
  const list = new BlockList();
  for (const entry of entries) addEntry(list, entry);
  return (address) => {
    const family = isIP(address);
    return family !== 0 && list.check(address, family === 4 ? 'ipv4' : 'ipv6');
  };
}

function addEntry(list: BlockList, entry: string): void {
  const [address = '', bits] = entry.split('/');
  const family = isIP(address);
  if (family === 0) throw new TypeError(`not an IP address or CIDR range: ${entry}`);
  const type = family === 4 ? 'ipv4' : 'ipv6';
  if (bits === undefined) {
    list.addAddress(address, type);
    return;
  }
  const prefix = Number(bits);
  if (!/^\d+$/.test(bits) || prefix > (family === 4 ? 32 : 128)) {
    throw new TypeError(`not a CIDR prefix length: ${entry}`);
  }
  list.addSubnet(address, prefix, type);
}
