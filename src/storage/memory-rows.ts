/** How the memory stores (`memory*.ts`) keep their rows: in maps, as copies. */

/**
 * A deep copy, taken on the way in and out, so a caller mutating an object never changes what
 * is stored. A missing row (undefined) stays undefined.
 */
export const copy = <T>(value: T): T => structuredClone(value);

/** Code-unit order, no locale (the SQL backends sort these columns bytewise too). */
export const bytewise = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** A map key made of several strings, which no two different lists of strings share. */
export const compositeKey = (...parts: readonly string[]): string => JSON.stringify(parts);

/** Deletes the rows `drop` picks; returns how many. */
export function deleteWhere<K, V>(rows: Map<K, V>, drop: (row: V) => boolean): number {
  let n = 0;
  for (const [key, row] of rows) if (drop(row) && rows.delete(key)) n++;
  return n;
}
