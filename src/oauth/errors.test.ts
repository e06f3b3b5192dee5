import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  InvalidClientMetadata,
  InvalidGrant,
  InvalidRedirectUri,
  InvalidRequest,
  OAuthError,
  TemporarilyUnavailable,
} from './errors.js';

test('each OAuth error carries its RFC code, a status, a stable code and its description', () => {
  const cases: [OAuthError, string, number][] = [
    [new InvalidRequest('bad'), 'invalid_request', 400],
    [new InvalidGrant('bad'), 'invalid_grant', 400],
    [new InvalidClientMetadata('bad'), 'invalid_client_metadata', 400],
    [new InvalidRedirectUri('bad'), 'invalid_redirect_uri', 400],
  ];
  for (const [err, error, status] of cases) {
    assert.ok(err instanceof OAuthError);
    assert.equal(err.error, error);
    assert.equal(err.status, status);
    assert.equal(err.code, `ERR_OAUTH_${error.toUpperCase()}`);
    assert.equal(err.description, 'bad');
    assert.deepEqual(err.headers, {});
  }
  assert.equal(new InvalidRequest('gone', { status: 404 }).status, 404);
  assert.equal(new InvalidGrant('x').name, 'InvalidGrant');
});

test('temporarily_unavailable is a 429 that says when to come back', () => {
  const err = new TemporarilyUnavailable(7);
  assert.equal(err.error, 'temporarily_unavailable');
  assert.equal(err.status, 429);
  assert.deepEqual(err.headers, { 'retry-after': '7' });
  assert.equal(err.code, 'ERR_OAUTH_TEMPORARILY_UNAVAILABLE');
});
