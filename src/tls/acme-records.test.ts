import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createMemoryStorage } from '../storage/memory.js';
import { AcmeRecords, type Unreadable } from './acme-records.js';
import { renewalTime } from './acme.js';

const SECRET = 'c2hhcmVkLXNlY3JldC1mb3ItZ2F0ZXdheS10ZXN0cyE=';
const OTHER_SECRET = 'b3RoZXItc2VjcmV0LWZvci1nYXRld2F5LXRlc3RzISE=';
const DIR = 'https://ca.example.test/dir';
const NOW = 1_800_000_000_000;
const PAIR = {
  cert: '-----BEGIN CERTIFICATE-----\nAAAA\n',
  key: '-----BEGIN PRIVATE KEY-----\nsecret-key-bytes\n',
};

describe('AcmeRecords', () => {
  it('keeps the account key and certificates sealed; they open only with the same secret', async () => {
    const storage = createMemoryStorage();
    const seen: [string, Unreadable][] = [];
    const records = new AcmeRecords(storage.oauth, SECRET, DIR);
    await records.saveAccountKey(PAIR.key, NOW);
    await records.saveCertificate('a.example.test', PAIR, NOW + 1000);
    const raw = await storage.oauth.find('AcmeCertificate', `${DIR}\0a.example.test`, NOW);
    assert.ok(raw && !JSON.stringify(raw.payload).includes('secret-key-bytes'));
    assert.equal(await records.accountKey(NOW), PAIR.key);
    assert.deepEqual(await records.certificate('a.example.test', NOW), PAIR);
    // Gone once the certificate has expired.
    assert.equal(await records.certificate('a.example.test', NOW + 1000), undefined);

    const other = new AcmeRecords(storage.oauth, OTHER_SECRET, DIR, (m, why) =>
      seen.push([m, why]),
    );
    assert.equal(await other.accountKey(NOW), undefined);
    assert.equal(await other.certificate('a.example.test', NOW), undefined);
    assert.deepEqual(seen, [
      ['AcmeAccount', 'sealed with another shared_secret'],
      ['AcmeCertificate', 'sealed with another shared_secret'],
    ]);
  });

  it('a sealed key moved to another host’s record does not open; another CA has its own', async () => {
    const storage = createMemoryStorage();
    const seen: Unreadable[] = [];
    const records = new AcmeRecords(storage.oauth, SECRET, DIR, (_m, why) => seen.push(why));
    await records.saveCertificate('a.example.test', PAIR, NOW + 1000);
    const a = await storage.oauth.find('AcmeCertificate', `${DIR}\0a.example.test`, NOW);
    await storage.oauth.upsert(
      'AcmeCertificate',
      `${DIR}\0b.example.test`,
      { ...a!.payload },
      null,
    );
    assert.equal(await records.certificate('b.example.test', NOW), undefined);
    assert.deepEqual(seen, ['sealed with another shared_secret']);
    const staging = new AcmeRecords(storage.oauth, SECRET, 'https://staging.example.test/dir');
    assert.equal(await staging.certificate('a.example.test', NOW), undefined);
  });

  it('a challenge is answered only for the host it was published for, until withdrawn', async () => {
    const storage = createMemoryStorage();
    const records = new AcmeRecords(storage.oauth, SECRET, DIR);
    await records.putChallenge('tok', 'a.example.test', 'tok.thumb', NOW);
    assert.equal(await records.challenge('tok', 'a.example.test', NOW), 'tok.thumb');
    assert.equal(await records.challenge('tok', 'b.example.test', NOW), undefined);
    assert.equal(await records.challenge('other', 'a.example.test', NOW), undefined);
    await records.deleteChallenge('tok');
    assert.equal(await records.challenge('tok', 'a.example.test', NOW), undefined);
  });
});

describe('renewalTime', () => {
  it('is two thirds into the lifetime (day 60 of a 90-day certificate)', () => {
    const validFrom = new Date(NOW);
    const validTo = new Date(NOW + 90 * 86_400_000);
    assert.equal(renewalTime({ validFrom, validTo }), NOW + 60 * 86_400_000);
  });
});
