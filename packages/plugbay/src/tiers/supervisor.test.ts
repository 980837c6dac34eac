import assert from 'node:assert/strict';
import { once } from 'node:events';
import { describe, test } from 'node:test';
import type { RestartOptions } from '../core/restart.js';
import type { InstanceState, PluginLogLine } from '../core/types.js';
import { InstanceBase } from './base.js';
import { Supervisor } from './supervisor.js';
import { probePlugin, RecordingLog } from './test-support.js';

/** A tier instance whose "worker" is a flag: restart() brings it up unless `failRestarts` says it crashes again. */
class Fake extends InstanceBase {
  readonly lines: PluginLogLine[];
  readonly supervisor: Supervisor;
  restarts = 0;
  failRestarts = false;
  crashloops = 0;

  constructor(options: RestartOptions) {
    super(probePlugin, 'thread');
    const log = new RecordingLog();
    this.lines = log.lines;
    this.supervisor = new Supervisor(
      this,
      options,
      {
        move: (state) => this.setState(state),
        restart: async () => {
          this.restarts++;
          if (this.failRestarts) {
            this.supervisor.crashed();
            return;
          }
          this.supervisor.started();
          this.setState('ready');
        },
        crashloop: () => this.crashloops++,
      },
      log,
    );
  }

  run(): void {
    this.setState('starting');
    this.setState('ready');
    this.supervisor.started();
  }

  get delays(): unknown[] {
    return this.lines.flatMap((l) => (l.fields?.delayMs === undefined ? [] : [l.fields.delayMs]));
  }

  protected async onClose(): Promise<void> {}
  protected async onDestroy(): Promise<void> {
    this.supervisor.stop();
  }
}

async function reach(instance: Fake, state: InstanceState): Promise<void> {
  while (instance.state !== state) await once(instance, 'state');
}

describe('Supervisor', () => {
  test('a crash degrades the instance and restarts it after the backoff delay', async () => {
    const fake = new Fake({ initialDelayMs: 5 });
    fake.run();
    const decision = fake.supervisor.crashed();
    assert.deepEqual(decision, { action: 'restart', delayMs: 5 });
    assert.equal(fake.state, 'degraded');
    assert.equal(fake.supervisor.pending, true);
    await reach(fake, 'ready');
    assert.equal(fake.restarts, 1);
    assert.equal(fake.supervisor.pending, false);
  });

  test('restarts that crash again back off, then a crash loop; recover() is a half-open restart now', async () => {
    const fake = new Fake({ initialDelayMs: 2, crashloopCount: 4, coolDownMs: 600_000 });
    fake.run();
    fake.failRestarts = true;
    const states: string[] = [];
    fake.on('state', (s) => states.push(s));
    fake.supervisor.crashed();
    await reach(fake, 'crashloop');
    assert.deepEqual(fake.delays, [2, 4, 8]);
    assert.equal(fake.crashloops, 1);
    assert.equal(fake.restarts, 3);
    assert.equal(fake.supervisor.pending, true, 'the cool-down retry is scheduled');
    fake.failRestarts = false;
    await fake.supervisor.recover();
    assert.equal(fake.state, 'ready');
    assert.deepEqual(states, ['degraded', 'crashloop', 'degraded', 'ready']);
    // The retry was half-open: a crash before the run is stable is a crash loop again at once.
    assert.equal(fake.supervisor.crashed().action, 'crashloop');
    assert.equal(fake.state, 'crashloop');
    await fake.destroy();
    assert.equal(fake.supervisor.pending, false);
  });

  test('no restart once the instance is closing', async () => {
    const fake = new Fake({ initialDelayMs: 1 });
    fake.run();
    fake.supervisor.crashed();
    await fake.close();
    assert.equal(fake.supervisor.pending, false);
    await fake.supervisor.recover(); // nothing to recover: closed
    assert.equal(fake.restarts, 0);
    assert.equal(fake.state, 'closed');
  });
});
