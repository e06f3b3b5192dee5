import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseStrictJson, parseStrictJsonBytes } from './strict-json.js';

const kind = (text: string) => {
  const r = parseStrictJson(text);
  return r.ok ? 'ok' : r.kind;
};

test('valid JSON parses to what JSON.parse gives', () => {
  for (const text of [
    '1',
    '"a"',
    'null',
    '[]',
    '{}',
    '{"a":[1,{"b":"}"}],"c":"\\"{"}',
    ' [ {"a" : 1} , {"a" : 2} ] ',
  ]) {
    const r = parseStrictJson(text);
    assert.ok(r.ok, text);
    assert.deepEqual(r.value, JSON.parse(text));
  }
});

test('syntax errors are what JSON.parse refuses', () => {
  for (const text of ['', '{', '{"a":1,}', "{'a':1}", 'NaN', '[1 2]', '{"a":1}x', '01']) {
    assert.equal(kind(text), 'syntax', text);
  }
});

test('duplicate keys are refused at any depth, however they are spelled', () => {
  assert.equal(kind('{"a":1,"a":2}'), 'duplicate-key');
  assert.equal(kind('{"a":1,"\\u0061":2}'), 'duplicate-key');
  assert.equal(kind('[{"x":{"y":[{"n":1,"n":1}]}}]'), 'duplicate-key');
  assert.equal(kind('{"params":{"name":"read","name":"drop"}}'), 'duplicate-key');
  assert.equal(kind('{ "a" \n: "x" , "b":[ "y" , {"c":1} ] ,\t"a"\r\n:2 }'), 'duplicate-key');
  const named = parseStrictJson('[{"x":1},{"y":{"k":"v:","k" : 2}}]');
  assert.deepEqual(named.ok ? null : named.message, 'duplicate key "k"');
  // The same key in sibling objects, or as a value, is fine.
  assert.equal(kind('[{"a":1},{"a":2}]'), 'ok');
  assert.equal(kind('{"a":{"a":1},"b":"a"}'), 'ok');
  assert.equal(kind('{"a\\\\":1,"a":2}'), 'ok');
  assert.equal(kind('{"a\\"":1,"a":2}'), 'ok');
});

test('__proto__, constructor and prototype keys are refused, escaped or not', () => {
  for (const text of [
    '{"__proto__":{}}',
    '{"a":{"constructor":1}}',
    '[{"prototype":1}]',
    '{"\\u005f_proto__":{}}',
  ]) {
    assert.equal(kind(text), 'forbidden-key', text);
  }
  assert.equal(kind('{"x":"__proto__"}'), 'ok');
});

test('deep nesting neither overflows the stack nor takes quadratic time', () => {
  const n = 200_000;
  const deep = '['.repeat(n) + ']'.repeat(n);
  const t0 = process.hrtime.bigint();
  assert.equal(kind(deep), 'ok');
  const objs = '{"a":'.repeat(n) + '1' + '}'.repeat(n);
  assert.equal(kind(objs), 'ok');
  assert.ok(Number(process.hrtime.bigint() - t0) / 1e6 < 5000);
  const limited = parseStrictJson(deep, { maxDepth: 64 });
  assert.deepEqual(limited.ok ? 'ok' : limited.kind, 'depth');
  assert.equal(parseStrictJson('[[[]]]', { maxDepth: 3 }).ok, true);
  assert.equal(parseStrictJson('[[[[]]]]', { maxDepth: 3 }).ok, false);
});

test('a long run of backslashes inside strings stays linear', () => {
  const s = '"' + '\\\\'.repeat(500_000) + '"';
  assert.equal(kind(`{${s}:1}`), 'ok');
});

test('bytes: invalid UTF-8 and a BOM are refused', () => {
  assert.equal(parseStrictJsonBytes(Buffer.from('{"a":"é"}')).ok, true);
  assert.equal(
    parseStrictJsonBytes(Buffer.from([0x7b, 0x22, 0xff, 0x22, 0x3a, 0x31, 0x7d])).ok,
    false,
  );
  assert.equal(parseStrictJsonBytes(Buffer.from('\ufeff{}')).ok, false);
});
