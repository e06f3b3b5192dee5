import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { callbackUrl, safeReturnTo } from './return-to.js';

describe('safeReturnTo', () => {
  it('keeps same-origin paths with query and fragment', () => {
    assert.equal(safeReturnTo('/'), '/');
    assert.equal(safeReturnTo('/a/b?c=1&d=%2F#top'), '/a/b?c=1&d=%2F#top');
  });

  it('refuses anything that could leave the origin', () => {
    for (const bad of [
      'https://evil.example/',
      '//evil.example/x',
      '/\\evil.example',
      '\\\\evil.example',
      'javascript:alert(1)',
      '/x\r\nLocation: https://evil.example',
      '/\t/evil.example',
      '',
      'relative/path',
      undefined,
      42,
      `/${'a'.repeat(3000)}`,
    ]) {
      assert.equal(safeReturnTo(bad), '/', String(bad));
    }
  });

  it('normalises dot segments without escaping the origin', () => {
    assert.equal(safeReturnTo('/a/../../b'), '/b');
    assert.equal(safeReturnTo('/./x'), '/x');
  });
});

describe('callbackUrl', () => {
  it('is /oauth2/callback on the gateway origin or the authenticate service URL', () => {
    assert.equal(callbackUrl('http://localhost:8080'), 'http://localhost:8080/oauth2/callback');
    assert.equal(
      callbackUrl('https://gw.example.com', 'https://authenticate.example.com'),
      'https://authenticate.example.com/oauth2/callback',
    );
  });
});
