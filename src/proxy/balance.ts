const ONLY: readonly number[] = Object.freeze([0]);
const NONE: readonly number[] = Object.freeze([]);

export interface Balancer {
  /** Indexes into `upstreams`, in the order to try them for one request. */
  order(upstreams: readonly URL[]): readonly number[];
  /** Puts an upstream that refused a connection last in every order for a while. */
  eject(upstream: URL): void;
}

/**
 * Round-robin over a route's upstreams, with passive health: an upstream that could not be
 * connected to is tried after the others for `ejectMs`, so a dead one does not add a failed
 * connection (or a connect timeout) to every other request. It is still tried when all are down.
 */
export function createBalancer(ejectMs: number, now: () => number = Date.now): Balancer {
  const next = new Map<string, number>();
  const downUntil = new Map<string, number>();
  return {
    order(upstreams) {
      const n = upstreams.length;
      if (n <= 1) return n === 1 ? ONLY : NONE;
      // Keyed by the origins, so routes sharing upstreams share one rotation.
      const key = upstreams.map((u) => u.origin).join(' ');
      const start = next.get(key) ?? 0;
      next.set(key, (start + 1) % n);
      const t = now();
      const healthy: number[] = [];
      const ejected: number[] = [];
      for (let k = 0; k < n; k++) {
        const i = (start + k) % n;
        const until = downUntil.get(upstreams[i]!.origin);
        (until !== undefined && until > t ? ejected : healthy).push(i);
      }
      return ejected.length === 0 ? healthy : healthy.concat(ejected);
    },
    eject(upstream) {
      downUntil.set(upstream.origin, now() + ejectMs);
    },
  };
}
