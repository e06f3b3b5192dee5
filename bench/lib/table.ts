/** Plain-text tables for the console: first column left-aligned, the others right-aligned. */
export function printTable(
  header: readonly string[],
  rows: ReadonlyArray<readonly string[]>,
): void {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!)))
      .join('  ')
      .trimEnd();
  console.log(line(header));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const row of rows) console.log(line(row));
}

export const fmt = {
  ms: (n: number) => (n < 10 ? n.toFixed(2) : n < 100 ? n.toFixed(1) : n.toFixed(0)) + ' ms',
  mib: (kib: number | undefined) => (kib === undefined ? '?' : `${(kib / 1024).toFixed(0)} MiB`),
  int: (n: number) => Math.round(n).toLocaleString('en-US'),
  ratio: (n: number) => n.toFixed(2) + '×',
};
