import { fastRestart, tierContract } from '../contract.test.shared.js';
import { fixture, wasmPlugin } from './test-fixtures.js';
import { createWasmTier } from './tier.js';

/** The .wat corpus: `loop` never yields, `trap` traps, `echo` is still queued for the worker when close() comes. */
function corpus() {
  const p = wasmPlugin(fixture('corpus'));
  return { plugin: p.plugin, cleanup: p.cleanup };
}

const worker = createWasmTier({ run: 'worker', restart: fastRestart });
tierContract('wasm (worker)', {
  fns: { echo: 'echo', fail: 'fail', hang: 'loop', slow: 'echo', spin: 'loop', crash: 'trap' },
  pluginCodes: false, // its fail sets an Extism error: no code of its own
  stops: false, // an Extism plugin has no stop()
  pluginHealth: false, // nor health()
  concurrent: false, // calls run one at a time: a trap meets no other call in flight
  exitOnCrash: false, // a trap rebuilds the sandbox without an 'exit' event (the host counts no crash for it)
  reportsLeaks: false,
  crashloopVia: 'spin', // a trap only rebuilds the sandbox; a runaway ends the worker
  setup: async () => ({ tier: worker, ...corpus(), inFlight: async () => {} }),
});

const hostThread = createWasmTier({ run: 'host-thread' });
tierContract('wasm (host-thread)', {
  fns: { echo: 'echo', fail: 'fail', crash: 'trap' },
  pluginCodes: false, // its fail sets an Extism error: no code of its own
  stops: false, // an Extism plugin has no stop()
  pluginHealth: false, // nor health()
  concurrent: false,
  exitOnCrash: false,
  reportsLeaks: false,
  skip: { crashloop: 'a trap only rebuilds the sandbox on the host thread: there is no worker to restart' },
  setup: async () => ({ tier: hostThread, ...corpus(), inFlight: async () => {} }),
});
