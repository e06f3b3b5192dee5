import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  isEventStreamMediaType,
  isFormMediaType,
  isJsonMediaType,
  listedMediaTypes,
  mediaTypeOf,
} from './media-type.js';

test('the essence of a media type: lower-cased, parameters dropped', () => {
  assert.equal(mediaTypeOf('Application/JSON; charset=utf-8'), 'application/json');
  assert.equal(mediaTypeOf(' text/event-stream '), 'text/event-stream');
  assert.equal(mediaTypeOf(''), undefined);
  assert.equal(mediaTypeOf(undefined), undefined);
  assert.equal(mediaTypeOf(['text/plain', 'application/json']), 'text/plain');
});

test('the predicates name one type each', () => {
  assert.equal(isJsonMediaType('application/json;charset=UTF-8'), true);
  assert.equal(isJsonMediaType('application/jsonx'), false);
  assert.equal(isFormMediaType('application/x-www-form-urlencoded; charset=utf-8'), true);
  assert.equal(isEventStreamMediaType('TEXT/EVENT-STREAM'), true);
  assert.equal(isEventStreamMediaType(undefined), false);
});

test('the types an Accept lists', () => {
  assert.deepEqual(listedMediaTypes('application/json, text/event-stream;q=0.9, */*'), [
    'application/json',
    'text/event-stream',
    '*/*',
  ]);
  assert.deepEqual(listedMediaTypes(undefined), []);
});
