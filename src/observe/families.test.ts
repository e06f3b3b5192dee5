import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Counter, Histogram, Registry, type RegistryContentType } from 'prom-client';
import { CounterFamily, HistogramFamily, HistogramSeries, type Label } from './families.js';

const BOUNDS = [0.001, 0.01, 0.1, 1];
const ROUTE: Label = { name: 'route', values: ['a', 'b', 'other'] };
const METHOD: Label = { name: 'mcp_method', values: ['tools/call', 'none'] };

/** Values on, between, below and above the bounds, negative and zero among them. */
const VALUES = [0.001, 0.0010001, 0.01, 0.1, 1, 1.5, 0, -0.5, 0.0005, 0.05, 30, 0.1, 1e-9, 7];

/** The same two metrics, once as families and once as prom-client's own, in two registries. */
function pair(contentType: RegistryContentType = Registry.PROMETHEUS_CONTENT_TYPE) {
  const ours = new Registry<RegistryContentType>();
  const theirs = new Registry<RegistryContentType>();
  ours.setContentType(contentType);
  theirs.setContentType(contentType);
  const requests = new CounterFamily('x_requests_total', 'Requests.', [ROUTE, METHOD]);
  const duration = new HistogramFamily('x_duration_seconds', 'Time.', [ROUTE, METHOD], BOUNDS);
  requests.register(ours);
  duration.register(ours);
  const labelNames = ['route', 'mcp_method'];
  const reference = {
    requests: new Counter({
      name: 'x_requests_total',
      help: 'Requests.',
      labelNames,
      registers: [theirs],
    }),
    duration: new Histogram({
      name: 'x_duration_seconds',
      help: 'Time.',
      labelNames,
      buckets: BOUNDS,
      registers: [theirs],
    }),
  };
  /** Counts `value` under route index `r` and method index `m` in both. */
  const observe = (r: number, m: number, value: number) => {
    requests.at(r, m).inc();
    duration.at(r, m).observe(value);
    const labels = [ROUTE.values[r] as string, METHOD.values[m] as string];
    reference.requests.labels(...labels).inc();
    reference.duration.labels(...labels).observe(value);
  };
  return { ours, theirs, observe, requests, duration };
}

test('a scrape writes what prom-client writes for the same observations, byte for byte', async () => {
  for (const contentType of [Registry.PROMETHEUS_CONTENT_TYPE, Registry.OPENMETRICS_CONTENT_TYPE]) {
    const { ours, theirs, observe } = pair(contentType);
    assert.equal(await ours.metrics(), await theirs.metrics(), 'nothing counted yet');
    VALUES.forEach((value, i) => observe(i % 3, i % 2, value));
    observe(2, 1, 0.25);
    const text = await ours.metrics();
    assert.equal(text, await theirs.metrics(), contentType);
    assert.match(
      text,
      /^x_duration_seconds_bucket\{le="\+Inf",route="a",mcp_method="tools\/call"\} 3$/m,
    );
    assert.equal(await ours.metrics(), text, 'scraping again changes nothing');
  }
});

test('a registry reset zeroes every series: unseen until counted again, as prom-client has it', async () => {
  const { ours, theirs, observe } = pair();
  VALUES.forEach((value, i) => observe(i % 3, i % 2, value));
  ours.resetMetrics();
  theirs.resetMetrics();
  const empty = await ours.metrics();
  assert.equal(empty, await theirs.metrics());
  assert.doesNotMatch(empty, /route=/);
  observe(1, 0, 0.02);
  observe(1, 0, 2);
  assert.equal(await ours.metrics(), await theirs.metrics());
  assert.match(await ours.metrics(), /^x_requests_total\{route="b",mcp_method="tools\/call"\} 2$/m);
});

test('concurrent scrapes read the same counts and count nothing twice', async () => {
  const { ours, observe } = pair();
  for (let i = 0; i < 100; i++) observe(0, 0, i / 1000);
  const scrapes = await Promise.all([ours.metrics(), ours.metrics(), ours.metrics()]);
  assert.deepEqual(new Set(scrapes).size, 1);
  assert.match(
    scrapes[0] as string,
    /^x_requests_total\{route="a",mcp_method="tools\/call"\} 100$/m,
  );
  assert.match(
    scrapes[0] as string,
    /^x_duration_seconds_count\{route="a",mcp_method="tools\/call"\} 100$/m,
  );
});

test('a bucket holds the values up to and including its bound (le); above the last only +Inf', () => {
  const series = new HistogramSeries({}, Float64Array.from([1, 2]));
  const at = () => [...series.counts, series.count];
  series.observe(1);
  assert.deepEqual(at(), [1, 0, 1], 'equal to the first bound: the first bucket');
  series.observe(1.0000000000000002);
  assert.deepEqual(at(), [1, 1, 2], 'just above it: the next');
  series.observe(2);
  assert.deepEqual(at(), [1, 2, 3]);
  series.observe(2.5);
  assert.deepEqual(at(), [1, 2, 4], 'above the last bound: in the count (+Inf) only');
  series.observe(-3);
  series.observe(0);
  assert.deepEqual(at(), [3, 2, 6], 'negative and zero: the first bucket, as in prom-client');
  assert.equal(series.sum, 1 + 1.0000000000000002 + 2 + 2.5 - 3 + 0);
});

test('a value that is not finite throws as prom-client does and counts nothing', () => {
  const registers = [new Registry()];
  const reference = new Histogram({
    name: 'r',
    help: 'h',
    labelNames: ['l'],
    buckets: [1],
    registers,
  });
  const series = new HistogramSeries({}, Float64Array.from([1]));
  for (const value of [NaN, Infinity, -Infinity]) {
    const message = (() => {
      try {
        reference.labels('x').observe(value);
      } catch (err) {
        return (err as Error).message;
      }
      return 'prom-client accepted it';
    })();
    assert.throws(() => series.observe(value), { name: 'TypeError', message });
  }
  assert.equal(series.count, 0);
  assert.equal(series.sum, 0);
});

test('a scrape after N observations shows exactly N, in cumulative buckets', async () => {
  const registry = new Registry();
  const family = new HistogramFamily('n_seconds', 'N.', [ROUTE], BOUNDS).register(registry);
  const counter = new CounterFamily('n_total', 'N.', [ROUTE]).register(registry);
  let seed = 7;
  const random = () => ((seed = (seed * 16807) % 2147483647) / 2147483647) * 1.2 - 0.01;
  const values = Array.from({ length: 12_345 }, random);
  for (const v of values) {
    family.at(1).observe(v);
    counter.at(1).inc();
  }
  const text = await registry.metrics();
  const sample = (line: string) => Number(new RegExp(`^${line} (\\S+)$`, 'm').exec(text)?.[1]);
  for (const bound of BOUNDS) {
    const expected = values.filter((v) => v <= bound).length;
    assert.equal(sample(`n_seconds_bucket\\{le="${bound}",route="b"\\}`), expected, `le=${bound}`);
  }
  assert.equal(sample('n_seconds_bucket\\{le="\\+Inf",route="b"\\}'), values.length);
  assert.equal(sample('n_seconds_count\\{route="b"\\}'), values.length);
  assert.equal(sample('n_total\\{route="b"\\}'), values.length);
  const sum = values.reduce((a, v) => a + v, 0);
  assert.equal(sample('n_seconds_sum\\{route="b"\\}'), sum, 'the sum, added in the same order');
  assert.doesNotMatch(text, /route="a"/, 'a series never counted is not written');
});

test('an index out of a label’s range is refused, never counted under another series', () => {
  const family = new CounterFamily('r_total', 'R.', [ROUTE, METHOD]);
  for (const [a, b] of [
    [3, 0],
    [-1, 0],
    [0, 2],
    [0, -1],
    [0.5, 0],
  ] as const) {
    assert.throws(() => family.at(a, b), RangeError, `${a}, ${b}`);
  }
  assert.throws(() => family.at(0, 0, 1), RangeError, 'past the family’s labels only 0');
  assert.throws(() => new CounterFamily('none_total', 'N.', []), /1 to 3 labels/);
  assert.throws(() => new HistogramFamily('h', 'H.', [ROUTE], [1, 0.5]), /buckets must ascend/);
});
