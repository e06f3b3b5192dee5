/** Runs at most `limit` tasks at once; the rest wait in order of arrival. */
export interface Limiter {
  /**
   * Runs `task` when a slot is free. `urgent` tasks go to the front of the queue: used for
   * the next page of a cursor, which everything after it waits on.
   */
  run<T>(task: () => Promise<T>, urgent?: boolean): Promise<T>;
  /** Refuses every queued and later task with `reason` (running ones finish). */
  abort(reason: unknown): void;
}

export function createLimiter(limit: number): Limiter {
  if (!Number.isInteger(limit) || limit < 1) throw new RangeError('limit must be an integer ≥ 1');
  let active = 0;
  let aborted: { reason: unknown } | undefined;
  const queue: Array<{ start: () => void; fail: (reason: unknown) => void }> = [];

  const next = () => {
    while (active < limit && queue.length > 0) queue.shift()!.start();
  };

  return {
    run<T>(task: () => Promise<T>, urgent = false): Promise<T> {
      if (aborted) return Promise.reject(aborted.reason);
      return new Promise<T>((resolve, reject) => {
        const entry = {
          start: () => {
            active++;
            task()
              .then(resolve, reject)
              .finally(() => {
                active--;
                next();
              });
          },
          fail: reject,
        };
        if (urgent) queue.unshift(entry);
        else queue.push(entry);
        next();
      });
    },
    abort(reason: unknown) {
      aborted ??= { reason };
      for (const entry of queue.splice(0)) entry.fail(reason);
    },
  };
}
