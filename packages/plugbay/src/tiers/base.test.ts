import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { InstanceState } from '../core/types.js';
import { canTransition, InstanceBase } from './base.js';
import { probePlugin } from './test-support.js';

/** The smallest tier instance: counts its onClose/onDestroy runs and lets the test drive the state machine. */
class Probe extends InstanceBase {
  closes = 0;
  destroys = 0;
  constructor() {
    super(probePlugin, 'inline');
  }
  move(next: InstanceState): boolean {
    return this.setState(next);
  }
  moveGuarded(next: InstanceState): boolean {
    return this.moveIfAllowed(next);
  }
  get error() {
    return this.unavailable();
  }
  protected async onClose(): Promise<void> {
    this.closes++;
  }
  protected async onDestroy(): Promise<void> {
    this.destroys++;
  }
}

function restoreStrict(value: string | undefined): void {
  if (value === undefined) delete process.env.PLUGBAY_STRICT_STATES;
  else process.env.PLUGBAY_STRICT_STATES = value;
}

describe('InstanceBase', () => {
  test('a move the table forbids throws with PLUGBAY_STRICT_STATES=1 and leaves the state as it was', (t) => {
    t.after(() => restoreStrict(strict));
    const strict = process.env.PLUGBAY_STRICT_STATES;
    process.env.PLUGBAY_STRICT_STATES = '1';
    const probe = new Probe();
    const states: string[] = [];
    probe.on('state', (s, previous) => states.push(`${previous}→${s}`));
    assert.equal(probe.move('starting'), true);
    assert.equal(probe.move('ready'), true);
    assert.equal(canTransition('ready', 'starting'), false);
    assert.throws(() => probe.move('starting'), /no transition ready → starting/);
    assert.equal(probe.state, 'ready');
    assert.equal(probe.move('ready'), false, 'staying is no move');
    assert.deepEqual(states, ['loading→starting', 'starting→ready']);
  });

  test('without PLUGBAY_STRICT_STATES (a running host, an application test) a forbidden move is ignored', (t) => {
    const strict = process.env.PLUGBAY_STRICT_STATES;
    t.after(() => restoreStrict(strict));
    delete process.env.PLUGBAY_STRICT_STATES;
    const probe = new Probe();
    probe.move('starting');
    probe.move('ready');
    assert.equal(probe.move('starting'), false);
    assert.equal(probe.state, 'ready');
  });

  test('moveIfAllowed is a guard: a forbidden move returns false without throwing', () => {
    const probe = new Probe();
    probe.move('failed');
    assert.equal(probe.moveGuarded('ready'), false);
    assert.equal(probe.state, 'failed');
    assert.equal(probe.moveGuarded('closed'), true);
  });

  test('ids follow <plugin>/<tier>/<n>; close and destroy are memoised and end in closed', async () => {
    const a = new Probe();
    const b = new Probe();
    assert.match(a.id, /^demo@1\.0\.0\/inline\/\d+$/);
    assert.notEqual(a.id, b.id);
    a.move('starting');
    a.move('ready');
    const states: string[] = [];
    a.on('state', (s) => states.push(s));
    const closing = a.close();
    assert.equal(a.close(), closing);
    assert.equal(a.closing, true);
    await Promise.all([closing, a.destroy()]);
    assert.deepEqual([a.closes, a.destroys], [1, 1]);
    assert.deepEqual(states, ['draining', 'closed']);
    assert.equal(a.error.code, 'PLUGBAY_CLOSED');
  });

  test('close from failed or crashloop skips draining (the table has no such move)', async () => {
    for (const from of ['failed', 'crashloop'] as const) {
      const probe = new Probe();
      probe.move('starting');
      probe.move(from);
      const states: string[] = [];
      probe.on('state', (s) => states.push(s));
      await probe.close();
      assert.deepEqual(states, ['closed'], from);
    }
  });

  test('unavailable() names the state: crashloop is a crash, failed has no instance', () => {
    const probe = new Probe();
    probe.move('crashloop');
    assert.equal(probe.error.code, 'PLUGBAY_PLUGIN_CRASHED');
    assert.equal(probe.error.details?.state, 'crashloop');
    const failed = new Probe();
    failed.move('failed');
    assert.equal(failed.error.code, 'PLUGBAY_NO_INSTANCE');
  });
});
