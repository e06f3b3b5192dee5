import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  IDP_COOKIE_NAMES,
  isGatewayCookie,
  MCP_AS_COOKIE_NAMES,
  withoutGatewayCookies,
} from './gateway-cookies.js';

test('every cookie the gateway names is recognised as its own, with prefixes and .sig', () => {
  const names = [
    'portcullis_session',
    '__Host-portcullis_session',
    'portcullis_signin_0123456789abcdef',
    '__Host-portcullis_signin_0123456789abcdef',
    ...Object.values(IDP_COOKIE_NAMES),
    ...Object.values(MCP_AS_COOKIE_NAMES),
  ];
  for (const name of [...names, ...names.map((n) => `${n}.sig`)]) {
    assert.equal(isGatewayCookie(name), true, name);
  }
});

test('look-alikes are not the gateway’s', () => {
  for (const name of [
    'portcullis',
    'Portcullis_session',
    'my_portcullis_session',
    '_session',
    '',
  ]) {
    assert.equal(isGatewayCookie(name), false, name);
  }
});

test('the gateway’s cookies leave the header; the rest stay as sent, in order', () => {
  const header =
    'a=1; portcullis_session=s; b="two words"; portcullis_idp_session.sig=x;c=3 ;  ; flag';
  assert.equal(withoutGatewayCookies(header), 'a=1; b="two words"; c=3; flag');
  assert.equal(
    withoutGatewayCookies('portcullis_session=s; __Host-portcullis_mcp_session=t'),
    undefined,
  );
  assert.equal(withoutGatewayCookies(''), undefined);
});
