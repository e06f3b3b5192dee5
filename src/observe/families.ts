/**
 * Counters and histograms that the request path counts in plain numbers, and that prom-client's
 * registry reads only when it is scraped. prom-client's own `inc` and `observe` validate and hash
 * the label values on every call and key a histogram's buckets by the bound turned into a string
 * (about 4 µs an observation in the gateway's CPU profile); here every label has a fixed list of
 * values, a series is found by the indices of its values, and counting is an addition.
 *
 * A family is registered in a prom-client `Registry` and implements what the registry reads of a
 * metric (`name`, `help`, `type`, `aggregator`, `get()`, `reset()`): `get()` returns the values in
 * the shape prom-client's Counter and Histogram return, so the registry writes the same text
 * (families.test.ts compares it byte for byte with prom-client's own metrics). Scraping only reads:
 * concurrent scrapes see the same counts and count nothing twice.
 */
import type { Registry, RegistryContentType } from 'prom-client';

/** A label and every value it can take; a series names its values by their index here. */
export interface Label {
  readonly name: string;
  readonly values: readonly string[];
}

type LabelSet = Readonly<Record<string, string | number>>;

interface Value {
  readonly labels: LabelSet;
  readonly value: number;
  readonly metricName?: string;
}

abstract class Family<S> {
  readonly aggregator = 'sum';
  abstract readonly type: 'counter' | 'histogram';
  /** Every series, in the order they were first counted (the order they are written in). */
  protected readonly all: S[] = [];
  /** `table[a][b][c]`: the series at those indices, filled as they are first counted. */
  private readonly table: S[][][] = [];

  constructor(
    // Not readonly: an OpenMetrics registry renames counters while it writes them.
    public name: string,
    readonly help: string,
    private readonly labels: readonly Label[],
  ) {
    if (labels.length < 1 || labels.length > 3) throw new Error(`${name}: 1 to 3 labels`);
  }

  /** The series whose label values are at indices `a`, `b`, `c` of the labels' value lists. */
  at(a: number, b = 0, c = 0): S {
    // Three array reads on the request path; any index out of range finds nothing and is refused
    // below, so no index can reach another series.
    return this.table[a]?.[b]?.[c] ?? this.add(a, b, c);
  }

  /** Registers this family in `registry` (beside prom-client's own metrics). */
  register(registry: Registry<RegistryContentType>): this {
    // The registry's type names only prom-client's classes; it reads of them what this implements.
    registry.registerMetric(this as unknown as Parameters<Registry['registerMetric']>[0]);
    return this;
  }

  async get(): Promise<{
    name: string;
    help: string;
    type: string;
    aggregator: string;
    values: Value[];
  }> {
    const { name, help, type, aggregator } = this;
    return { name, help, type, aggregator, values: this.values() };
  }

  /** Every series back to zero: like prom-client's, unseen until counted again. */
  abstract reset(): void;

  protected abstract create(labels: LabelSet): S;
  protected abstract values(): Value[];

  private add(a: number, b: number, c: number): S {
    const indices = [a, b, c];
    // Past the family's labels an index must be 0, or two series would have the same labels.
    if (indices.some((index, i) => this.labels[i] === undefined && index !== 0)) {
      throw new RangeError(`${this.name}: no series at ${indices.join(', ')}`);
    }
    const series = this.create(this.labelSet(indices));
    const rows = (this.table[a] ??= []);
    (rows[b] ??= [])[c] = series;
    this.all.push(series);
    return series;
  }

  private labelSet(indices: readonly number[]): LabelSet {
    const set: Record<string, string> = {};
    this.labels.forEach(({ name, values }, i) => {
      const value = values[indices[i] as number];
      if (value === undefined)
        throw new RangeError(`${this.name}: no series at ${indices.join(', ')}`);
      set[name] = value;
    });
    return set;
  }
}

export class CounterSeries {
  value = 0;
  constructor(readonly labels: LabelSet) {}
  inc(): void {
    this.value += 1;
  }
}

export class CounterFamily extends Family<CounterSeries> {
  readonly type = 'counter';

  reset(): void {
    for (const series of this.all) series.value = 0;
  }

  protected create(labels: LabelSet): CounterSeries {
    return new CounterSeries(labels);
  }

  protected values(): Value[] {
    const values: Value[] = [];
    for (const { labels, value } of this.all) {
      // A series is counted by ones: zero means not counted (since a reset), as prom-client has it.
      if (value > 0) values.push({ value, labels: { ...labels } });
    }
    return values;
  }
}

export class HistogramSeries {
  /** Observations per bucket, not cumulative: `counts[i]` those in (bounds[i-1], bounds[i]]. */
  readonly counts: Float64Array;
  sum = 0;
  count = 0;

  constructor(
    readonly labels: LabelSet,
    private readonly bounds: Float64Array,
  ) {
    this.counts = new Float64Array(bounds.length);
  }

  /** As prom-client's: a value equal to a bound is in that bucket (`le`); non-finite throws. */
  observe(value: number): void {
    if (!Number.isFinite(value)) throw new TypeError(`Value is not a valid number: ${value}`);
    const { bounds, counts } = this;
    let i = 0;
    while (i < bounds.length && value > (bounds[i] as number)) i++;
    // Above the last bound: only in `+Inf`, which is the count.
    if (i < counts.length) counts[i] = (counts[i] as number) + 1;
    this.sum += value;
    this.count += 1;
  }
}

export class HistogramFamily extends Family<HistogramSeries> {
  readonly type = 'histogram';
  private readonly bounds: Float64Array;

  constructor(name: string, help: string, labels: readonly Label[], buckets: readonly number[]) {
    super(name, help, labels);
    const ascending = buckets.every(
      (b, i) => Number.isFinite(b) && (i === 0 || b > (buckets[i - 1] as number)),
    );
    if (buckets.length === 0 || !ascending) throw new Error(`${name}: buckets must ascend`);
    this.bounds = Float64Array.from(buckets);
  }

  reset(): void {
    for (const series of this.all) {
      series.counts.fill(0);
      series.sum = 0;
      series.count = 0;
    }
  }

  protected create(labels: LabelSet): HistogramSeries {
    return new HistogramSeries(labels, this.bounds);
  }

  protected values(): Value[] {
    const values: Value[] = [];
    const bucket = `${this.name}_bucket`;
    for (const { labels, counts, sum, count } of this.all) {
      if (count === 0) continue;
      let below = 0;
      counts.forEach((n, i) => {
        below += n;
        values.push({
          labels: { le: this.bounds[i] as number, ...labels },
          value: below,
          metricName: bucket,
        });
      });
      values.push(
        { labels: { le: '+Inf', ...labels }, value: count, metricName: bucket },
        { labels: { ...labels }, value: sum, metricName: `${this.name}_sum` },
        { labels: { ...labels }, value: count, metricName: `${this.name}_count` },
      );
    }
    return values;
  }
}
