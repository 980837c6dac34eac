/**
 * OS layers for process plugins, detected once per host process (asynchronously, when the first exec plugin is
 * launched) and applied when present. Every plugin gets a report of the layers that really apply to it; a layer
 * that is missing is reported as missing, never claimed.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import type { Manifest } from '../../core/manifest.js';
import type { Permissions } from '../../core/manifest-schema.js';
import { deniedNames, seccompArchOf, seccompProgram } from './seccomp.js';

export interface SandboxTools {
  /** bubblewrap runs here (probed: `bwrap … true` exits 0; it needs user namespaces or root). */
  bwrap: boolean;
  /** bwrap loaded plugbay's seccomp filter here (probed; needs a syscall table for this architecture). */
  seccomp: boolean;
  prlimit: boolean;
  /** util-linux setpriv, for --pdeathsig. */
  setpriv: boolean;
  /** util-linux unshare gives new PID, network, mount namespaces here (probed; needs root without bwrap). */
  unshare: boolean;
}

export type SandboxLayerName =
  | 'bubblewrap'
  | 'seccomp'
  | 'prlimit'
  | 'pdeathsig'
  | 'node-permission-model'
  | 'max-old-space-size'
  | 'env-allowlist'
  | 'parent-watch'
  | 'pid-namespace'
  | 'network-namespace'
  | 'uid';

export interface SandboxLayer {
  layer: SandboxLayerName;
  applied: boolean;
  /** What the layer does for this plugin, or why it does not apply. */
  detail: string;
}

/**
 * Runs a probe command without blocking the event loop (spawnSync would stall every other plugin's calls for the
 * ~30 ms each probe takes); true when it exits 0. `input` goes to the child's stdin.
 */
function runs(command: string, args: string[], input?: Uint8Array): Promise<boolean> {
  return new Promise((resolve) => {
    let child: ReturnType<typeof spawn>;
    try {
      child = spawn(command, args, { stdio: [input === undefined ? 'ignore' : 'pipe', 'ignore', 'ignore'] });
    } catch {
      resolve(false);
      return;
    }
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
    child.once('error', () => {
      clearTimeout(timer);
      resolve(false);
    });
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve(code === 0);
    });
    if (input !== undefined && child.stdin) {
      child.stdin.on('error', () => {}); // a probe that exits early closes the pipe: its exit code tells
      child.stdin.end(input);
    }
  });
}

const bwrapProbe = [
  '--unshare-all',
  '--die-with-parent',
  '--ro-bind',
  '/',
  '/',
  '--dev',
  '/dev',
  '--proc',
  '/proc',
];

// Each probe runs at most once per host process, on first need (memoised promises).
let sandboxProbe: Promise<Omit<SandboxTools, 'setpriv'>> | undefined;
let setprivProbe: Promise<boolean> | undefined;

/** Whether `setpriv --pdeathsig` works here (also wanted when the sandbox is off: no orphans either way). */
export function detectPdeathsig(): Promise<boolean> {
  setprivProbe ??= runs('setpriv', ['--pdeathsig', 'KILL', 'true']);
  return setprivProbe;
}

/** Probes the machine once per host process, asynchronously; the probes run side by side. */
export async function detectSandboxTools(): Promise<SandboxTools> {
  sandboxProbe ??= (async () => {
    // bwrap with the filter first (the common case costs one run); bwrap reads the program from fd 0 here.
    const [seccomp, prlimit] = await Promise.all([
      seccompArchOf() !== undefined
        ? runs('bwrap', [...bwrapProbe, '--seccomp', '0', 'true'], seccompProgram())
        : Promise.resolve(false),
      runs('prlimit', ['--nofile=1024:1024', 'true']),
    ]);
    return {
      bwrap: seccomp || (await runs('bwrap', [...bwrapProbe, 'true'])),
      seccomp,
      prlimit,
      unshare: false,
    };
  })();
  const [tools, setpriv] = await Promise.all([sandboxProbe, detectPdeathsig()]);
  return { ...tools, setpriv };
}

/**
 * The tools an exec plugin's launch uses: with the sandbox off, only setpriv is probed (pdeathsig is about
 * orphans, not isolation, and applies either way); bwrap, seccomp and prlimit are neither probed nor claimed.
 */
export async function launchTools(sandbox: boolean): Promise<SandboxTools> {
  if (sandbox) return detectSandboxTools();
  return { bwrap: false, seccomp: false, prlimit: false, unshare: false, setpriv: await detectPdeathsig() };
}

/** The child's file descriptor bwrap reads the seccomp program from (the launcher pipes it there). */
export const seccompFd = 3;

export interface WrapInput {
  manifest: Manifest;
  /** What the plugin was granted (CheckedPlugin.permissions), not what its manifest asks for. */
  permissions: Permissions;
  pluginDir: string;
  entryPath: string;
  socketDir: string;
  tools: SandboxTools;
  /** Turn OS layers off (tests of the bare protocol, or a host that runs in its own sandbox). */
  disabled: boolean;
}

const systemDirs = ['/usr', '/etc/ssl', '/etc/ca-certificates', '/etc/alternatives'];

/** The command line of an exec plugin with every available layer wrapped around it, and the report. */
export function wrapExec(input: WrapInput): {
  command: string;
  args: string[];
  layers: SandboxLayer[];
  /** Bytes to give the child on fd `seccompFd` (the seccomp program), when the filter applies. */
  fd3?: Buffer;
} {
  const { manifest, tools } = input;
  const perms = input.permissions;
  const layers: SandboxLayer[] = [
    {
      layer: 'env-allowlist',
      applied: true,
      detail: `only declared env: ${(perms.env ?? []).join(', ') || 'none'}`,
    },
  ];
  let argv = [input.entryPath];
  let fd3: Buffer | undefined;

  const useBwrap = tools.bwrap && !input.disabled;
  if (useBwrap) {
    const net = (perms.net ?? []).length > 0;
    // --cap-drop ALL: bwrap run by root keeps every capability inside the sandbox otherwise.
    const b = ['--unshare-all', '--die-with-parent', '--new-session', '--cap-drop', 'ALL'];
    if (tools.seccomp) {
      fd3 = seccompProgram();
      b.push('--seccomp', String(seccompFd));
    }
    if (net) b.push('--share-net');
    for (const dir of systemDirs) b.push('--ro-bind-try', dir, dir);
    b.push(
      '--symlink',
      'usr/lib',
      '/lib',
      '--symlink',
      'usr/lib64',
      '/lib64',
      '--symlink',
      'usr/bin',
      '/bin',
      '--symlink',
      'usr/sbin',
      '/sbin',
    );
    b.push('--dev', '/dev', '--proc', '/proc', '--tmpfs', '/tmp');
    b.push('--ro-bind', input.pluginDir, input.pluginDir);
    for (const p of perms.fs?.read ?? []) {
      const abs = path.resolve(input.pluginDir, p);
      b.push('--ro-bind-try', abs, abs);
    }
    for (const p of perms.fs?.write ?? []) {
      const abs = path.resolve(input.pluginDir, p);
      b.push('--bind-try', abs, abs);
    }
    b.push('--bind', input.socketDir, input.socketDir, '--chdir', input.pluginDir, '--');
    argv = ['bwrap', ...b, ...argv];
    layers.push({
      layer: 'bubblewrap',
      applied: true,
      detail: `namespaces unshared, no capabilities, plugin dir read-only, /usr read-only, network ${net ? 'shared (declared)' : 'none'}`,
    });
  } else {
    layers.push({
      layer: 'bubblewrap',
      applied: false,
      detail: input.disabled ? 'disabled by the host' : 'bwrap is not available or does not run here',
    });
  }
  layers.push(seccompLayer(input, fd3 !== undefined));

  if (tools.prlimit && !input.disabled) {
    const limits = ['--nofile=1024:1024', '--core=0'];
    if (perms.memoryMb !== undefined) limits.push(`--as=${perms.memoryMb * 1024 * 1024}`);
    argv = ['prlimit', ...limits, '--', ...argv];
    layers.push({
      layer: 'prlimit',
      applied: true,
      detail: `nofile 1024, no core dumps${perms.memoryMb ? `, address space ${perms.memoryMb} MB` : ''}`,
    });
  } else {
    layers.push({
      layer: 'prlimit',
      applied: false,
      detail: input.disabled ? 'disabled by the host' : 'prlimit is not available',
    });
  }

  // Outermost, so that the host's death kills the first process of the chain (bwrap then kills its children).
  if (tools.setpriv) {
    argv = ['setpriv', '--pdeathsig', 'KILL', '--', ...argv];
    layers.push({ layer: 'pdeathsig', applied: true, detail: 'SIGKILL when the host dies' });
  } else {
    layers.push({
      layer: 'pdeathsig',
      applied: false,
      detail: 'setpriv is not available: a killed host may leave the plugin running',
    });
  }
  const [command, ...args] = argv as [string, ...string[]];
  return fd3 === undefined ? { command, args, layers } : { command, args, layers, fd3 };
}

function seccompLayer(input: WrapInput, applied: boolean): SandboxLayer {
  const arch = seccompArchOf();
  if (applied && arch !== undefined) {
    return {
      layer: 'seccomp',
      applied: true,
      detail: `${deniedNames(arch).length} syscalls fail with EPERM (${deniedNames(arch).slice(0, 6).join(', ')}, …), clone with namespace flags and odd personalities too; clone3 ENOSYS; other ABIs killed`,
    };
  }
  let why: string;
  if (input.disabled) why = 'disabled by the host';
  else if (!input.tools.bwrap) why = 'needs bubblewrap, which is not available or does not run here';
  else if (arch === undefined) why = `no syscall table for ${process.arch}`;
  else why = 'bwrap could not load the filter on this machine';
  return { layer: 'seccomp', applied: false, detail: why };
}

/**
 * What applies to a plugin without launching it (for `plugbay check`, which shows what a host with the sandbox on
 * would apply). The machine is probed only for exec plugins (once per process).
 */
export async function sandboxReport(
  manifest: Manifest,
  permissions: Permissions = manifest.permissions ?? {},
  tools?: SandboxTools,
): Promise<SandboxLayer[]> {
  if (manifest.runtime === 'node') return nodeLayers(permissions);
  if (manifest.runtime === 'exec') {
    tools ??= await detectSandboxTools();
    return wrapExec({
      manifest,
      permissions,
      pluginDir: '/plugin',
      entryPath: '/plugin/entry',
      socketDir: '/tmp',
      tools,
      disabled: false,
    }).layers;
  }
  return [];
}

export function nodeLayers(perms: Permissions): SandboxLayer[] {
  return [
    {
      layer: 'node-permission-model',
      applied: true,
      detail: `fs read: plugin dir, SDK${perms.fs?.read?.length ? `, ${perms.fs.read.join(', ')}` : ''}; fs write: ${perms.fs?.write?.join(', ') || 'none'}; child processes ${perms.childProcess ? 'allowed' : 'denied'}; workers denied`,
    },
    {
      layer: 'max-old-space-size',
      applied: perms.memoryMb !== undefined,
      detail: perms.memoryMb !== undefined ? `${perms.memoryMb} MB heap` : 'no memoryMb declared',
    },
    {
      layer: 'env-allowlist',
      applied: true,
      detail: `only declared env: ${(perms.env ?? []).join(', ') || 'none'}`,
    },
    {
      layer: 'parent-watch',
      applied: true,
      detail: 'exits within 2 s when the host dies (stdin pipe, ppid)',
    },
  ];
}
