// The generic page's helpers (client/src/generic.js), without a browser: which fields are an
// entity's position, the world they span, and the bandwidth meter fed by the decoder's hook.
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { BandwidthMeter, positionOf, worldOf } from '../src/generic.js';

const fixed = (name, min = 0, max = 960000, scale = 960) => ({ name, coding: { type: 'Fixed', scale, min, max } });
const int = (name) => ({ name, coding: { type: 'Int', min: 0, max: 10 } });
const type = (...fields) => ({ fields });

test('the position is a pair of Fixed P.x / P.y fields, pos first', () => {
  assert.equal(positionOf(type(fixed('vel.x'), fixed('pos.x'), fixed('pos.y'), fixed('vel.y'))).x, 'pos.x');
  const p = positionOf(type(fixed('vel.x'), fixed('vel.y'), fixed('at.x'), fixed('at.y')));
  assert.deepEqual([p.x, p.y], ['vel.x', 'vel.y'], 'the first pair in field order');
  assert.deepEqual([positionOf(type(fixed('x'), fixed('y'))).x], ['x']);
  assert.equal(positionOf(type(fixed('pos.x'), int('pos.y'))), null, 'both must be Fixed');
  assert.equal(positionOf(type(fixed('pos.x'))), null);
  assert.equal(positionOf(type(int('hp'))), null);
});

test('the world is the params, or the position fields\' declared ranges', () => {
  const a = positionOf(type(fixed('pos.x', -960 * 50, 960 * 150), fixed('pos.y', 0, 960 * 80)));
  const b = positionOf(type(fixed('at.x', 0, 960 * 200), fixed('at.y', -960 * 20, 960 * 10)));
  assert.deepEqual(worldOf({ world_width: 1600, world_height: 1000 }, [a, b]), { x0: 0, y0: 0, width: 1600, height: 1000 });
  assert.deepEqual(worldOf({}, [a, null, b]), { x0: -50, y0: -20, width: 250, height: 100 });
  assert.deepEqual(worldOf({ world_width: 300 }, [a]), { x0: 0, y0: 0, width: 300, height: 80 });
  assert.deepEqual(worldOf({}, [null]), { x0: 0, y0: 0, width: 1000, height: 1000 });
});

test('the bandwidth meter sums the hook\'s bytes per type and field over each period', () => {
  let now = 0;
  const meter = new BandwidthMeter(() => now, 1000);
  const plan = { types: [{ name: 'npc', fields: [{ name: 'pos.x' }, { name: 'pos.y' }] }, { name: 'room', fields: [{ name: 'time' }] }] };
  for (let i = 0; i < 10; i++) {
    meter.account(0, 0, 3);
    meter.account(0, 1, 2);
    meter.account(0, -1, 1);
    meter.account(1, 0, 1);
    meter.account(-1, -1, 4);
    meter.snapshot();
  }
  now = 500;
  assert.equal(meter.roll(plan), false, 'the period is not over');
  now = 2000;
  assert.equal(meter.roll(plan), true);
  const r = meter.rates;
  assert.equal(r.bytesPerSec, 55);
  assert.equal(r.snapshotsPerSec, 5);
  assert.deepEqual(r.byType, { npc: 30, room: 5, '(list counts)': 20 });
  assert.deepEqual(r.byField.slice(0, 2), [
    { type: '(list counts)', field: '', bytesPerSec: 20 },
    { type: 'npc', field: 'pos.x', bytesPerSec: 15 },
  ]);
  assert.ok(r.byField.some((f) => f.type === 'npc' && f.field === '(ids, mask)' && f.bytesPerSec === 5));
  // A new period starts empty.
  now = 3000;
  meter.roll(plan);
  assert.equal(meter.rates.bytesPerSec, 0);
});
