import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  bearerChallenge,
  protectedResourceMetadata,
  resourceForMetadataPath,
  resourceMetadataUrl,
} from './metadata.js';

const sqlite = { resource: 'https://mcp.example.com/sqlite', name: 'sqlite' };
const whoami = { resource: 'https://mcp.example.com/whoami', name: 'whoami' };

test('resource metadata URL is path-aware (RFC 9728 §3.1)', () => {
  assert.equal(
    resourceMetadataUrl('https://mcp.example.com/sqlite'),
    'https://mcp.example.com/.well-known/oauth-protected-resource/sqlite',
  );
  assert.equal(
    resourceMetadataUrl('https://db.example.com'),
    'https://db.example.com/.well-known/oauth-protected-resource',
  );
});

test('metadata documents and path lookup', () => {
  assert.deepEqual(protectedResourceMetadata(sqlite, 'https://mcp.example.com'), {
    resource: 'https://mcp.example.com/sqlite',
    authorization_servers: ['https://mcp.example.com'],
    resource_name: 'sqlite',
    bearer_methods_supported: ['header'],
    scopes_supported: ['mcp'],
  });
  const both = [sqlite, whoami];
  assert.equal(
    resourceForMetadataPath('/.well-known/oauth-protected-resource/whoami', both),
    whoami,
  );
  // RFC 9728 §3.3: the bare URL is a root resource's, and no other's.
  assert.equal(resourceForMetadataPath('/.well-known/oauth-protected-resource', both), undefined);
  assert.equal(resourceForMetadataPath('/.well-known/oauth-protected-resource/', both), undefined);
  const root = { resource: 'https://mcp.example.com', name: 'root' };
  for (const path of [
    '/.well-known/oauth-protected-resource',
    '/.well-known/oauth-protected-resource/',
  ]) {
    assert.equal(resourceForMetadataPath(path, [sqlite, root]), root, path);
  }
  assert.equal(
    resourceForMetadataPath('/.well-known/oauth-protected-resource/nope', both),
    undefined,
  );
});

test('bearer challenge names the metadata and, for a refused token, invalid_token', () => {
  assert.equal(
    bearerChallenge(sqlite.resource),
    'Bearer resource_metadata="https://mcp.example.com/.well-known/oauth-protected-resource/sqlite", scope="mcp"',
  );
  assert.match(bearerChallenge(sqlite.resource, 'invalid_token'), /error="invalid_token"/);
});
