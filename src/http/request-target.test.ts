import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { requestPath, settleRequestTarget } from './request-target.js';

/** The parts of a parsed request `settleRequestTarget` reads and writes. */
function parsed(url: string, hosts: string[] = ['gw.example']) {
  return {
    url,
    headers: hosts.length > 0 ? { host: hosts[0] } : {},
    rawHeaders: hosts.flatMap((h) => ['Host', h]),
  } as unknown as IncomingMessage;
}

test('absolute-form: the authority becomes Host, the target its origin-form', () => {
  // [target, Host after, target after]
  const cases: [string, string, string][] = [
    ['http://db.example:8080/sqlite?x=1', 'db.example:8080', '/sqlite?x=1'],
    ['HTTP://DB.example', 'DB.example', '/'],
    ['http://[::1]:81?q', '[::1]:81', '/?q'],
  ];
  for (const [target, host, url] of cases) {
    const req = parsed(target, ['ignored.example']);
    assert.equal(settleRequestTarget(req, 'http'), undefined, target);
    assert.equal(req.headers.host, host, target);
    assert.equal(req.url, url, target);
  }
});

test('absolute-form dot segments are kept for requestPath to refuse', () => {
  const req = parsed('http://gw.example/public/../admin');
  assert.equal(settleRequestTarget(req, 'http'), undefined);
  assert.equal(requestPath(req.url), undefined);
});

test('refused: another scheme, userinfo, a bad authority, two Host lines', () => {
  const refused: [string, string[], 'http' | 'https'][] = [
    ['https://gw.example/', ['gw.example'], 'http'],
    ['http://gw.example/', ['gw.example'], 'https'],
    ['ws://gw.example/', ['gw.example'], 'http'],
    ['http://u:p@gw.example/', ['gw.example'], 'http'],
    ['http:///x', ['gw.example'], 'http'],
    ['http://gw.example:99999/', ['gw.example'], 'http'],
    ['gw.example:80', ['gw.example'], 'http'],
    ['/x', ['gw.example', 'gw.example'], 'http'],
    ['/x', ['a.example', 'b.example'], 'https'],
  ];
  for (const [target, hosts, scheme] of refused) {
    assert.equal(typeof settleRequestTarget(parsed(target, hosts), scheme), 'string', target);
  }
});

test('origin-form and asterisk-form are left alone', () => {
  for (const target of ['/x?y', '*']) {
    const req = parsed(target);
    assert.equal(settleRequestTarget(req, 'http'), undefined);
    assert.equal(req.url, target);
    assert.equal(req.headers.host, 'gw.example');
  }
  assert.equal(requestPath('*'), undefined);
});
