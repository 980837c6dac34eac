// Finding 2 of issue #13 with this machine's sandbox tools (bubblewrap present: CI installs it, so never skipped
// there): an unsigned plugin cannot signal the host or a sibling, reach a host port, or read outside its folder.
import { isolationSuite } from './isolation-suite.js';
import { detectSandboxTools } from './sandbox.js';

const tools = await detectSandboxTools();
if (!tools.bwrap && process.env.CI) throw new Error('bubblewrap must run in CI');
if (tools.bwrap) {
  isolationSuite({
    label: 'bubblewrap',
    layers: [
      'bubblewrap',
      'pid-namespace',
      'network-namespace',
      ...(tools.seccomp ? (['seccomp'] as const) : []),
      ...(process.getuid?.() === 0 && tools.setpriv ? (['uid'] as const) : []),
    ],
    filesystem: 'hidden',
  });
}
