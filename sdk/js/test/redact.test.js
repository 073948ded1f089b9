// The JavaScript SDK masks exactly what the Rust SDK (plugins/redact) masks:
// sdk/redact-vectors.json holds the Rust crate's outputs, which
// tests/plugins_polyglot.rs checks against the crate itself.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';

import { redact } from '../gate-plugin/index.js';

const vectors = JSON.parse(readFileSync(new URL('../../redact-vectors.json', import.meta.url), 'utf8'));

test('the same outputs as the Rust SDK', () => {
  assert.ok(vectors.length > 30);
  for (const c of vectors) {
    const got = c.fn === 'shown' ? redact.shown(c.key, c.value) : redact[c.fn](c.value);
    assert.equal(got, c.expect, JSON.stringify(c));
  }
});

test('never contains the secret', () => {
  for (const secret of ['ghp_0123456789abcdefABCDEFabcdef01234567', 'p4ss-w0rd-long-enough', 'ab', 'éèêëēėę']) {
    assert.ok(!redact.redact(secret).includes(secret));
  }
});

test('secret keys mask any value', () => {
  assert.equal(redact.shown('database.password', 'hunter2'), 'h…(7 chars)');
  assert.equal(redact.shown('API_TOKEN', 'abc'), '…(3 chars)');
});

test('known prefixes under any key, and inside text', () => {
  for (const secret of ['sk_live_4eC39HqLyjWDarjtT1zdp7dc', 'AKIAZ3MSJV4WWNKWW5FG', 'xoxb-123456789012-abcdefghijkl']) {
    assert.ok(!redact.shown('rate', secret).includes(secret));
    assert.ok(!redact.scrub(`found ${secret} in config`).includes(secret));
  }
});

test('URL passwords', () => {
  assert.equal(redact.url('https://ops:s3cret@app:8443/health?x=1'), 'https://ops:***@app:8443/health?x=1');
  assert.equal(redact.scrub('dsn postgres://app:Pg9xQ2w@db/app'), 'dsn postgres://app:***@db/app');
});

test('ordinary values stay readable', () => {
  for (const value of ['100', '10r/s', 'production', 'https://example.com/runbooks/BackendDown']) {
    assert.equal(redact.shown('rate', value), value);
  }
});
