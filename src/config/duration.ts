const UNITS: Readonly<Record<string, number>> = {
  ns: 1e-6,
  us: 1e-3,
  µs: 1e-3,
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
};

/**
 * A Go duration string (`30s`, `1m30s`, `250ms`, `0`), as Pomerium writes timeouts, in
 * milliseconds; undefined when it is not one.
 */
export function parseDuration(text: string): number | undefined {
  if (text === '0') return 0;
  const re = /(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/gy;
  let total = 0;
  let end = 0;
  for (const match of text.matchAll(re)) {
    total += Number(match[1]) * UNITS[match[2]!]!;
    end = (match.index ?? 0) + match[0].length;
  }
  return end === text.length && end > 0 ? total : undefined;
}
