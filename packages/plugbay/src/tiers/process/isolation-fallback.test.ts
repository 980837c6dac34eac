// Finding 2 of issue #13 with bubblewrap unavailable (a bwrap that fails comes first on PATH; node --test runs this
// file in its own process, so nothing was probed before): util-linux unshare and setpriv, run by root, still give
// the plugin its own PID and network namespaces and uid. Files outside its folder are refused by its uid only.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { isolationSuite } from './isolation-suite.js';
import { detectSandboxTools } from './sandbox.js';

const bin = fs.mkdtempSync(path.join(os.tmpdir(), 'plugbay-no-bwrap-'));
fs.writeFileSync(path.join(bin, 'bwrap'), '#!/bin/sh\nexit 1\n', { mode: 0o755 });
process.env.PATH = `${bin}:${process.env.PATH ?? ''}`;
process.on('exit', () => fs.rmSync(bin, { recursive: true, force: true }));

const tools = await detectSandboxTools();
if (tools.bwrap) throw new Error('the fake bwrap should have failed its probe');
if (tools.unshare || process.env.CI) {
  isolationSuite({
    label: 'no bubblewrap: unshare and setpriv',
    layers: ['pid-namespace', 'network-namespace', ...(tools.setpriv ? (['uid'] as const) : [])],
    filesystem: 'uid',
  });
}
