import assert from 'node:assert/strict';
import { test } from 'node:test';
import { listenAddress, listenFailure } from './listen-failure.js';

const errno = (code: string) => Object.assign(new Error(`listen ${code}`), { code });

test('listenFailure: a bind that failed because of its address, in words', () => {
  assert.equal(
    listenFailure(errno('EADDRINUSE'), '127.0.0.1', 8080),
    'cannot listen on 127.0.0.1:8080: already in use by another process (EADDRINUSE)',
  );
  assert.match(
    listenFailure(errno('EACCES'), '', 443) ?? '',
    /^cannot listen on :443: permission denied \(.*CAP_NET_BIND_SERVICE\) \(EACCES\)$/,
  );
  assert.match(
    listenFailure(errno('EADDRNOTAVAIL'), '::1', 80) ?? '',
    /^cannot listen on \[::1\]:80: /,
  );
});

test('listenFailure: any other failure is not the address’s', () => {
  for (const err of [errno('EMFILE'), errno('constructor'), new Error('no code'), null, 'text']) {
    assert.equal(listenFailure(err, '127.0.0.1', 1), undefined, String(err));
  }
  assert.equal(listenAddress('', 80), ':80');
});
