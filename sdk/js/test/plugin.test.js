// Params parsing and the rules `run` enforces, without a component: the
// checks here never call the host.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { CapabilityError, Param, ParamError, Plugin, Severity, Status } from '../gate-plugin/index.js';

const plugin = new Plugin('acme', '0.1.0', 'test plugin');
plugin.check(
  {
    id: 'acme.services',
    title: 'services',
    description: 'one finding per service',
    severity: Severity.LOW,
    params: [
      new Param('services', 'list<string>', 'services to look at', { required: true }),
      new Param('limit', 'integer', 'how many', { default: 3 }),
      new Param('strict', 'bool', 'fail instead of warn', { default: false }),
    ],
    capabilities: ['fs'],
  },
  function* (ctx, params) {
    if (params.limit < 0) throw new ParamError('`limit` must not be negative');
    for (const name of params.services) {
      if (name === 'denied') throw new CapabilityError('fs', 'plugin `acme` is not granted `fs` access to `denied`', name);
      if (name === 'boom') throw new RangeError('owner out of range');
      if (name === 'secret') {
        yield ctx.finding(name, Status.FAIL).message('token sk_live_4eC39HqLyjWDarjtT1zdp7dc leaked').evidence('password', 'hunter2');
        continue;
      }
      yield ctx.finding(name, Status.PASS).message(`limit ${params.limit}`);
    }
  },
);
plugin.check({ id: 'acme.nothing', title: 'nothing', description: 'returns nothing' }, () => []);

const run = (check, params) =>
  plugin.run({ check, params: typeof params === 'string' ? params : JSON.stringify(params), cwd: '/work' });

test('defaults fill in', () => {
  const [f] = run('acme.services', { services: ['web'] });
  assert.deepEqual([f.status, f.subject, f.message], ['pass', 'web', 'limit 3']);
});

test('missing, mistyped and unknown params are errors', () => {
  let [f] = run('acme.services', {});
  assert.deepEqual([f.status, f.subject], ['error', 'params']);
  assert.match(f.message, /missing required parameter `services`/);
  for (const bad of [{ services: 'web' }, { services: [1] }, { services: ['a'], limit: '3' }, { services: ['a'], limit: 1.5 }]) {
    [f] = run('acme.services', bad);
    assert.deepEqual([f.status, f.subject], ['error', 'params'], JSON.stringify(bad));
    assert.match(f.message, /must be/);
  }
  [f] = run('acme.services', { services: ['a'], limt: 2 });
  assert.match(f.message, /unknown parameter `limt`/);
  [f] = run('acme.services', { services: ['a'], limit: -1 });
  assert.deepEqual([f.status, f.subject], ['error', 'params']);
  [f] = run('acme.services', '{nope');
  assert.deepEqual([f.status, f.subject], ['error', 'params']);
});

test('describe reports defaults as TOML', () => {
  const info = plugin.describe();
  assert.equal(info.checks[0].defaultSeverity, 'low');
  assert.deepEqual(
    info.checks[0].params.map((p) => p.default),
    [undefined, '3', 'false'],
  );
  assert.equal(new Param('p', 'list<string>', 'd', { default: ['a', 'b'] }).defaultToml(), '["a", "b"]');
  assert.throws(() => new Param('p', 'integer', 'd', { default: 'x' }));
  assert.throws(() => new Param('p', 'duration', 'd'));
});

test('a denied capability is an error, not a pass', () => {
  const [f] = run('acme.services', { services: ['web', 'denied'] });
  assert.deepEqual([f.status, f.subject], ['error', 'denied']);
  assert.match(f.message, /not granted `fs`/);
});

test('an exception is an error naming it', () => {
  const [f] = run('acme.services', { services: ['boom'] });
  assert.equal(f.status, 'error');
  assert.match(f.message, /RangeError: owner out of range/);
});

test('never an empty list; unknown checks are errors', () => {
  let [f] = run('acme.nothing', {});
  assert.equal(f.status, 'error');
  assert.match(f.message, /no findings/);
  [f] = run('acme.missing', {});
  assert.deepEqual([f.status, f.subject], ['error', 'acme']);
});

test('secrets are masked', () => {
  const [f] = run('acme.services', { services: ['secret'] });
  assert.ok(!f.message.includes('4eC39HqLyjWDarjtT1zdp7dc'));
  assert.deepEqual(f.evidence, [['password', 'h…(7 chars)']]);
});

test('declaration mistakes throw', () => {
  assert.throws(() => plugin.check({ id: 'other.x', title: 't', description: 'd' }, () => []));
  assert.throws(() => plugin.check({ id: 'acme.services', title: 't', description: 'd' }, () => []));
});
