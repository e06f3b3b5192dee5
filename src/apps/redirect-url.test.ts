import assert from 'node:assert/strict';
import { test } from 'node:test';
import { checkRedirectUrl, isLoopback } from './redirect-url.js';

const ALLOWED = new Set(['app.example.com', 'mcp.example.com', 'localhost:8080']);

test('redirect_url: an https URL on an allowed host is taken as written', () => {
  for (const url of [
    'https://app.example.com/',
    'https://app.example.com/back?x=1#y',
    'HTTPS://APP.example.com/path',
    'https://app.example.com:443/',
    'https://mcp.example.com/.pomerium/',
    'http://localhost:8080/app/',
    'https://app.example.com/%2F%2Fevil.example',
  ]) {
    const check = checkRedirectUrl(url, ALLOWED);
    assert.ok(check.ok, url);
    assert.equal(ALLOWED.has(check.url.host), true, url);
  }
});

test('redirect_url: every trick is refused, each for a reason that names it', () => {
  const cases: [string | null, RegExp][] = [
    [null, /required/],
    ['', /required/],
    ['https://evil.example/', /host/],
    ['https://app.example.com@evil.example/', /user information/],
    ['https://evil.example@app.example.com/', /user information/],
    ['https://app.example.com%2F@evil.example/', /user information/],
    ['https://evil.example%2Fapp.example.com/', /not a URL/],
    ['//evil.example/', /absolute/],
    ['/\\evil.example', /backslash/],
    ['https:\\\\evil.example', /backslash/],
    ['https://app.example.com\\@evil.example', /backslash/],
    ['https:evil.example', /absolute/],
    ['https:%2F%2Fevil.example', /absolute/],
    ['javascript:alert(1)', /absolute/],
    ['data:text/html,x', /absolute/],
    ['ftp://app.example.com/', /absolute/],
    ['http://app.example.com/', /https/],
    ['https://app.example.com.evil.example/', /host/],
    ['https://app.example.com./', /host/],
    ['https://app.example.com:8443/', /host/],
    [' https://app.example.com/', /whitespace/],
    ['https://app.example.com/\r\nSet-Cookie: x=y', /whitespace/],
    ['https://app.example.com/\u0000', /control/],
    [`https://app.example.com/${'a'.repeat(2048)}`, /longer/],
  ];
  for (const [url, reason] of cases) {
    const check = checkRedirectUrl(url, ALLOWED);
    assert.equal(check.ok, false, String(url));
    if (!check.ok) assert.match(check.reason, reason, String(url));
  }
});

test('loopback: localhost names, 127.0.0.0/8 and ::1 only', () => {
  for (const host of [
    'localhost',
    'app.localhost',
    '127.0.0.1',
    '127.1.2.3',
    '[::1]',
    'LOCALHOST',
  ]) {
    assert.equal(isLoopback(host), true, host);
  }
  for (const host of ['localhost.evil.example', '128.0.0.1', '10.0.0.1', '[::2]', 'evil.example']) {
    assert.equal(isLoopback(host), false, host);
  }
});
