import { test } from 'node:test';
import assert from 'node:assert/strict';
import { claimHeaderNames, identityHeaderValue, isIdentityHeader } from './identity-headers.js';

test('claim header names are owned case-insensitively, X-Pomerium-* always', () => {
  const names = claimHeaderNames({ 'X-Dept': 'department', 'x-EMAIL': 'email' });
  assert.deepEqual([...names], ['x-dept', 'x-email']);
  for (const name of ['x-dept', 'x-email', 'x-pomerium-jwt-assertion', 'x-pomerium-claim-x']) {
    assert.equal(isIdentityHeader(name, names), true, name);
  }
  for (const name of ['x-department', 'x-pomerium', 'cookie']) {
    assert.equal(isIdentityHeader(name, names), false, name);
  }
});

test('printable ASCII values pass as they are', () => {
  for (const value of [
    'ada@example.com',
    'admins,staff',
    'Ada Lovelace',
    "it's (quoted) * 100%",
    '',
  ]) {
    assert.equal(identityHeaderValue(value), value);
  }
});

const decode = (v: string) => decodeURIComponent(v.slice("UTF-8''".length));

test('anything else is an RFC 8187 ext-value that decodes to the exact value', () => {
  assert.equal(
    identityHeaderValue('zoë-李@example.com'),
    "UTF-8''zo%C3%AB-%E6%9D%8E%40example.com",
  );
  const values = [
    'zoë-李@example.com',
    'café',
    'a\r\nX-Injected: yes',
    'tab\there',
    'nul\0',
    ' padded ',
    "UTF-8''%41dmin",
    "it's (quoted) * 100%\u00a0",
    '🦀',
  ];
  for (const value of values) {
    const encoded = identityHeaderValue(value);
    assert.match(encoded, /^UTF-8''[\x21-\x7e]*$/, JSON.stringify(value));
    assert.equal(decode(encoded), value);
  }
});
