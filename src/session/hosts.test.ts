import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { describe, it } from 'node:test';
import { SignInHosts } from './hosts.js';

const on = (host: string) => ({ headers: { host } }) as IncomingMessage;

describe('SignInHosts', () => {
  const hosts = new SignInHosts(
    'https://auth.example.test:8443',
    [
      'https://sqlite.example.test:8443',
      'https://sqlite.example.test:8443/',
      'https://whoami.example.test',
    ],
    'https',
  );

  it('places a request on the authenticate host or a route host, ports included', () => {
    assert.equal(hosts.originOf(on('auth.example.test:8443')), 'https://auth.example.test:8443');
    assert.equal(
      hosts.originOf(on('SQLITE.example.test:8443')),
      'https://sqlite.example.test:8443',
    );
    assert.equal(hosts.originOf(on('whoami.example.test')), 'https://whoami.example.test');
    assert.equal(hosts.originOf(on('whoami.example.test:443')), 'https://whoami.example.test');
    assert.equal(hosts.originOf(on('sqlite.example.test')), undefined, 'another port');
    assert.equal(hosts.originOf(on('sqlite.example.test:9443')), undefined);
    assert.equal(hosts.originOf(on('evil.example.test:8443')), undefined);
    assert.equal(hosts.originOf(on('')), undefined);
  });

  it('route hosts other than the authenticate host sign in by hand-off', () => {
    assert.equal(hosts.crossHost, true);
    assert.equal(
      hosts.remoteOrigin(on('sqlite.example.test:8443')),
      'https://sqlite.example.test:8443',
    );
    assert.equal(hosts.remoteOrigin(on('auth.example.test:8443')), undefined);
    assert.equal(hosts.remoteOrigin(on('evil.example.test:8443')), undefined);
    assert.equal(hosts.isAuthHost(on('auth.example.test:8443')), true);
    assert.equal(hosts.isAuthHost(on('sqlite.example.test:8443')), false);
  });

  it('a hand-off may name exactly a route origin', () => {
    assert.deepEqual(hosts.routeOriginList(), [
      'https://sqlite.example.test:8443',
      'https://whoami.example.test',
    ]);
    assert.equal(hosts.isRouteOrigin('https://sqlite.example.test:8443'), true);
    assert.equal(hosts.isRouteOrigin('https://whoami.example.test'), true);
    assert.equal(hosts.isRouteOrigin('https://sqlite.example.test'), false);
    assert.equal(hosts.isRouteOrigin('http://whoami.example.test'), false);
    assert.equal(hosts.isRouteOrigin('https://auth.example.test:8443'), false);
  });

  it('routes all on the authenticate host: no hand-off (single host)', () => {
    const single = new SignInHosts(
      'http://localhost:8080',
      ['http://localhost:8080', 'http://localhost:8080/'],
      'http',
    );
    assert.equal(single.crossHost, false);
    assert.equal(single.remoteOrigin(on('localhost:8080')), undefined);
    assert.equal(single.isAuthHost(on('localhost:8080')), true);
  });

  it('the authenticate host defaults to a route host and stays first', () => {
    const first = new SignInHosts(
      'https://sqlite.example.test',
      ['https://sqlite.example.test', 'https://whoami.example.test'],
      'https',
    );
    assert.equal(first.crossHost, true);
    assert.equal(first.isAuthHost(on('sqlite.example.test')), true);
    assert.equal(first.remoteOrigin(on('whoami.example.test')), 'https://whoami.example.test');
  });
});
