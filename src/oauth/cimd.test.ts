import assert from 'node:assert/strict';
import { test } from 'node:test';
import { hostAllowed } from './cimd.js';
import { canonicalHost, checkedAddress, isPublicAddress, type Lookup } from '../net/fetch-guard.js';

test('client ID metadata document hosts: exact names and *. suffixes', () => {
  assert.equal(hostAllowed('chatgpt.com', ['chatgpt.com']), true);
  assert.equal(hostAllowed('evil-chatgpt.com', ['chatgpt.com']), false);
  assert.equal(hostAllowed('a.example.com', ['*.example.com']), true);
  assert.equal(hostAllowed('example.com', ['*.example.com']), false);
  assert.equal(hostAllowed('aexample.com', ['*.example.com']), false);
  assert.equal(hostAllowed('chatgpt.com', []), false);
});

test('non-public addresses: private, loopback, link-local, unspecified, CGNAT, multicast…', () => {
  const refused = [
    '0.0.0.0',
    '10.1.2.3',
    '100.64.0.1',
    '100.127.255.254',
    '127.0.0.1',
    '127.255.255.255',
    '169.254.169.254',
    '172.16.0.1',
    '172.31.255.255',
    '192.0.0.8',
    '192.0.2.1',
    '192.168.1.1',
    '198.18.0.1',
    '198.51.100.7',
    '203.0.113.9',
    '224.0.0.1',
    '239.255.255.250',
    '240.0.0.1',
    '255.255.255.255',
    '::',
    '::1',
    '::ffff:127.0.0.1',
    '::ffff:7f00:1',
    '::ffff:10.0.0.1',
    '::127.0.0.1',
    '64:ff9b::a00:1',
    '100::1',
    '2001::1',
    '2001:db8::1',
    '2002:7f00:1::',
    'fc00::1',
    'fd12:3456::1',
    'fe80::1',
    'fec0::1',
    'ff02::1',
    'not an address',
  ];
  for (const address of refused) assert.equal(isPublicAddress(address), false, address);
  const accepted = ['1.1.1.1', '8.8.8.8', '100.63.255.255', '172.32.0.1', '2606:4700::1111'];
  for (const address of accepted) assert.equal(isPublicAddress(address), true, address);
});

test('host spellings are read as the URL parser reads them', () => {
  assert.equal(canonicalHost('2130706433'), '127.0.0.1');
  assert.equal(canonicalHost('0x7f.1'), '127.0.0.1');
  assert.equal(canonicalHost('0177.0.0.1'), '127.0.0.1');
  assert.equal(canonicalHost('[::FFFF:127.0.0.1]'), '::ffff:7f00:1');
  assert.equal(canonicalHost('::1'), '::1');
  assert.equal(canonicalHost('LocalHost.'), 'localhost');
});

const answers =
  (table: Record<string, string[]>): Lookup =>
  async (name) =>
    (table[name] ?? []).map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));

test('a name is refused when any address it resolves to is not public', async () => {
  const lookup = answers({
    'docs.example': ['93.184.215.14'],
    'internal.example': ['10.0.0.5'],
    'mixed.example': ['93.184.215.14', '192.168.0.10'],
    'v6.example': ['2606:4700::1111', 'fd00::1'],
  });
  const none = new Set<string>();
  assert.equal(await checkedAddress('docs.example', none, lookup), '93.184.215.14');
  for (const name of ['internal.example', 'mixed.example', 'v6.example']) {
    await assert.rejects(checkedAddress(name, none, lookup), /non-public address/, name);
  }
  await assert.rejects(checkedAddress('127.0.0.1', none, lookup), /non-public address/);
  await assert.rejects(checkedAddress('::ffff:7f00:1', none, lookup), /non-public address/);
  await assert.rejects(checkedAddress('nowhere.example', none, lookup), /no address/);
});

test('only hosts named in the bypass list skip the check', async () => {
  const lookup = answers({ 'dev.internal': ['10.0.0.5'] });
  const bypass = new Set(['dev.internal', '127.0.0.1']);
  assert.equal(await checkedAddress('dev.internal', bypass, lookup), '10.0.0.5');
  assert.equal(await checkedAddress('127.0.0.1', bypass, lookup), '127.0.0.1');
  await assert.rejects(checkedAddress('::1', bypass, lookup), /non-public address/);
});

test('the address checked is the address connected to: the name is resolved once', async () => {
  // A rebinding resolver: public on the first answer, loopback afterwards.
  let calls = 0;
  const rebinding: Lookup = async () => [
    calls++ === 0 ? { address: '93.184.215.14', family: 4 } : { address: '127.0.0.1', family: 4 },
  ];
  assert.equal(await checkedAddress('rebind.example', new Set(), rebinding), '93.184.215.14');
  assert.equal(calls, 1);
});
