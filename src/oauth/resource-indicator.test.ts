import assert from 'node:assert/strict';
import { test } from 'node:test';
import { canonicalResource, canonicalResourceParams } from './resource-indicator.js';

const resources = [
  'https://mcp.example.com/sqlite',
  'http://localhost:8080/whoami',
  'https://db.example.com',
];

test('resource: scheme and host case, default ports and an empty path name the configured resource', () => {
  for (const [given, expected] of [
    ['HTTPS://MCP.Example.COM/sqlite', 'https://mcp.example.com/sqlite'],
    ['https://mcp.example.com:443/sqlite', 'https://mcp.example.com/sqlite'],
    ['Http://LOCALHOST:8080/whoami', 'http://localhost:8080/whoami'],
    ['https://DB.example.com/', 'https://db.example.com'],
    ['https://db.example.com:443', 'https://db.example.com'],
  ] as const) {
    assert.equal(canonicalResource(given, resources), expected, given);
  }
});

test('resource: anything else comes back as given', () => {
  for (const given of [
    'https://mcp.example.com/SQLITE',
    'https://mcp.example.com/sqlite/',
    'https://mcp.example.com:8443/sqlite',
    'http://mcp.example.com/sqlite',
    'http://localhost:80/whoami',
    'https://user@mcp.example.com/sqlite',
    'https://mcp.example.com/sqlite#frag',
    'HTTPS://elsewhere.example/sqlite',
    'urn:example:sqlite',
    'https://[bad/sqlite',
    '',
  ]) {
    assert.equal(canonicalResource(given, resources), given, given);
  }
});

test('resource: every resource parameter is rewritten, in order, and only when needed', () => {
  const params = new URLSearchParams([
    ['resource', 'HTTPS://MCP.EXAMPLE.COM/sqlite'],
    ['scope', 'mcp'],
    ['resource', 'https://elsewhere.example'],
  ]);
  assert.equal(canonicalResourceParams(params, resources), true);
  assert.deepEqual(params.getAll('resource'), [
    'https://mcp.example.com/sqlite',
    'https://elsewhere.example',
  ]);
  assert.equal(canonicalResourceParams(params, resources), false);
});
