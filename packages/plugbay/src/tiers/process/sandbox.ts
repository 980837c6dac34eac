/**
 * OS layers for process plugins (node and exec alike), detected once per host process (asynchronously, when the
 * first plugin is launched) and applied when present. Every plugin gets a report of the layers that really apply
 * to it; a layer that is missing is reported as missing, never claimed.
 *
 * With bubblewrap: own PID, IPC, UTS, cgroup and (unless net is granted) network namespaces, a mount namespace
 * holding only /usr, the plugin dir and what it needs, no capabilities, the seccomp filter. Without it, run by root:
 * util-linux `unshare` for the PID and network namespaces. Either way, run by root: `setpriv` drops the plugin to
 * uid/gid 65534 with no groups and no capabilities. Then prlimit, and setpriv --pdeathsig outermost.
 */
import { spawn } from 'node:child_process';
import { realpathSync, statSync } from 'node:fs';
import path from 'node:path';
import type { Manifest } from '../../core/manifest.js';
import type { Permissions } from '../../core/manifest-schema.js';
import { unchangedPath } from '../../core/real-path.js';
import type { CheckedPlugin } from '../../core/types.js';
import { deniedNames, seccompArchOf, seccompProgram } from './seccomp.js';

export interface SandboxTools {
  /** bubblewrap runs here (probed: `bwrap … true` exits 0; it needs user namespaces or root). */
  bwrap: boolean;
  /** bwrap loaded plugbay's seccomp filter here (probed; needs a syscall table for this architecture). */
  seccomp: boolean;
  prlimit: boolean;
  /** util-linux setpriv: --pdeathsig, and the switch to the plugin uid when the host is root. */
  setpriv: boolean;
  /** util-linux unshare gives new PID, network and mount namespaces here (probed; without bwrap it needs root). */
  unshare: boolean;
}

export type SandboxLayerName =
  | 'bubblewrap'
  | 'pid-namespace'
  | 'network-namespace'
  | 'uid'
  | 'seccomp'
  | 'prlimit'
  | 'pdeathsig'
  | 'node-permission-model'
  | 'max-old-space-size'
  | 'env-allowlist'
  | 'parent-watch';

export interface SandboxLayer {
  layer: SandboxLayerName;
  applied: boolean;
  /** What the layer does for this plugin, or why it does not apply. */
  detail: string;
}

/** The uid and gid plugins run as when the host is root (nobody/nogroup): no file of the host's is theirs. */
export const pluginUid = 65534;

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

/** util-linux unshare without bwrap: own PID (a fresh /proc), IPC, UTS and mount namespaces; `--net` unless granted. */
const unshareFlags = ['--pid', '--ipc', '--uts', '--mount', '--fork', '--kill-child', '--mount-proc'];

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
    const [seccomp, prlimit, unshare] = await Promise.all([
      seccompArchOf() !== undefined
        ? runs('bwrap', [...bwrapProbe, '--seccomp', '0', 'true'], seccompProgram())
        : Promise.resolve(false),
      runs('prlimit', ['--nofile=1024:1024', 'true']),
      runs('unshare', [...unshareFlags, '--net', '--', 'true']),
    ]);
    return { bwrap: seccomp || (await runs('bwrap', [...bwrapProbe, 'true'])), seccomp, prlimit, unshare };
  })();
  const [tools, setpriv] = await Promise.all([sandboxProbe, detectPdeathsig()]);
  return { ...tools, setpriv };
}

/**
 * The tools a plugin's launch uses: with the sandbox off, only setpriv is probed (pdeathsig is about orphans, not
 * isolation, and applies either way); bwrap, seccomp, unshare and prlimit are neither probed nor claimed.
 */
export async function launchTools(sandbox: boolean): Promise<SandboxTools> {
  if (sandbox) return detectSandboxTools();
  return { bwrap: false, seccomp: false, prlimit: false, unshare: false, setpriv: await detectPdeathsig() };
}

/** The child's file descriptor bwrap reads the seccomp program from (the launcher pipes it there). */
export const seccompFd = 3;

export interface WrapInput {
  runtime: 'node' | 'exec';
  /** The plugin's own command line: its entry, or node with its flags and the SDK's process entry. */
  argv: string[];
  /** What the plugin was granted (CheckedPlugin.permissions), not what its manifest asks for. */
  permissions: Permissions;
  /** Real path of the plugin's folder: read-only in its view, its working directory. */
  pluginDir: string;
  /** What the runtime reads besides the plugin dir (the node binary, the SDK and its dependencies): read-only. */
  runtimePaths: string[];
  /** This launch's own socket directory: the only writable path besides granted ones; owned by the plugin's uid. */
  socketDir: string;
  tools: SandboxTools;
  /** Turn OS layers off (tests of the bare protocol, or a host that runs in its own sandbox). */
  disabled: boolean;
}

export interface Wrapped {
  command: string;
  args: string[];
  layers: SandboxLayer[];
  /** Bytes to give the child on fd `seccompFd` (the seccomp program), when the filter applies. */
  fd3?: Buffer;
  /** The uid the plugin runs as, when it is not the host's: its socket dir must be that uid's. */
  uid?: number;
  /**
   * The wrapper that turns the plugin's death by signal N into its own exit code 128 + N (bwrap, whose pid-1 init
   * reaps the plugin and exits so; its `--json-status-fd` reports the same number): launch.ts reads the signal back.
   */
  signalAsExitCode?: 'bwrap';
}

const systemDirs = ['/usr', '/etc/ssl', '/etc/ca-certificates', '/etc/alternatives'];
/** What name resolution reads, bound only for plugins granted the network. */
const resolverFiles = ['/etc/resolv.conf', '/etc/hosts', '/etc/nsswitch.conf', '/etc/gai.conf'];
const isSystemPath = (p: string): boolean => systemDirs.some((d) => p === d || p.startsWith(`${d}/`));

/**
 * The plugin with its granted fs.read and fs.write paths absolute and checked at this launch (core/real-path.ts
 * unchangedPath): bwrap binds and Node's --allow-fs-* flags resolve them again, so each must still be the real path
 * its grant was decided on. Relative paths (a plugin loaded without the host) count from its real folder.
 */
export function grantedPathsUnchanged(plugin: CheckedPlugin): CheckedPlugin {
  const fsPerms = plugin.permissions.fs;
  if (fsPerms === undefined) return plugin;
  const dir = realpathSync(plugin.dir);
  const source = { plugin: plugin.manifest.name, version: plugin.manifest.version };
  const checked = (want: 'read' | 'write') =>
    fsPerms[want]?.map((p, i) => unchangedPath(path.resolve(dir, p), `permissions.fs.${want}.${i}`, source));
  const read = checked('read');
  const write = checked('write');
  const next: NonNullable<Permissions['fs']> = { ...fsPerms };
  if (read !== undefined) next.read = read;
  if (write !== undefined) next.write = write;
  return { ...plugin, permissions: { ...plugin.permissions, fs: next } };
}

/** A plugin's command line with every available layer wrapped around it, and the report of what applied. */
export function wrapCommand(input: WrapInput): Wrapped {
  const { tools, permissions: perms } = input;
  const on = !input.disabled;
  const off = (why: string): string => (input.disabled ? 'disabled by the host' : why);
  const net = (perms.net ?? []).length > 0;
  const useBwrap = on && tools.bwrap;
  // Only root can give the plugin a uid of its own (a user namespace would only rename the host's uid).
  const dropUid = on && tools.setpriv && process.getuid?.() === 0;
  // unshare only with the drop to that uid: a root plugin keeps every capability there and could leave its namespaces.
  const useUnshare = on && !useBwrap && tools.unshare && dropUid;
  const layers: SandboxLayer[] = [
    {
      layer: 'env-allowlist',
      applied: true,
      detail: `only declared env: ${(perms.env ?? []).join(', ') || 'none'}`,
    },
  ];
  let argv = input.argv;
  let fd3: Buffer | undefined;

  if (dropUid) {
    // Last before the plugin: bwrap (root, no user namespace) and unshare do their set-up as root first.
    const id = String(pluginUid);
    argv = [
      'setpriv',
      '--reuid',
      id,
      '--regid',
      id,
      '--clear-groups',
      '--inh-caps',
      '-all',
      '--bounding-set',
      '-all',
      '--no-new-privs',
      '--',
      ...argv,
    ];
  }
  if (useBwrap) {
    // Run by root, a user namespace would map the plugin uid away: the namespaces are named one by one instead.
    const b = dropUid
      ? [
          '--unshare-pid',
          '--unshare-ipc',
          '--unshare-uts',
          '--unshare-cgroup-try',
          ...(net ? [] : ['--unshare-net']),
        ]
      : ['--unshare-all', ...(net ? ['--share-net'] : [])];
    // --cap-drop ALL: bwrap run by root keeps every capability inside the sandbox otherwise. The three kept for the
    // inner setpriv are gone (bounding set too) before the plugin runs.
    b.push('--die-with-parent', '--new-session', '--cap-drop', 'ALL');
    if (dropUid) b.push('--cap-add', 'CAP_SETUID', '--cap-add', 'CAP_SETGID', '--cap-add', 'CAP_SETPCAP');
    if (tools.seccomp) {
      fd3 = seccompProgram();
      b.push('--seccomp', String(seccompFd));
    }
    // bwrap run by root makes the missing parents of a mount point 0700: the plugin's uid could not pass them.
    const made = new Set<string>(['/']);
    const mount = (flag: string, target: string): void => {
      const missing: string[] = [];
      for (let dir = path.dirname(target); !made.has(dir); dir = path.dirname(dir)) missing.unshift(dir);
      for (const dir of missing) {
        b.push('--dir', dir);
        made.add(dir);
      }
      b.push(flag, target, target);
      made.add(target);
    };
    for (const dir of systemDirs) mount('--ro-bind-try', dir);
    if (net) for (const file of resolverFiles) mount('--ro-bind-try', file);
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
    );
    b.push('--symlink', 'usr/sbin', '/sbin', '--dev', '/dev', '--proc', '/proc', '--tmpfs', '/tmp');
    for (const dir of ['/dev', '/proc', '/tmp']) made.add(dir);
    mount('--ro-bind', input.pluginDir);
    for (const p of input.runtimePaths) if (!isSystemPath(p)) mount('--ro-bind-try', p);
    for (const p of perms.fs?.read ?? []) mount('--ro-bind-try', path.resolve(input.pluginDir, p));
    for (const p of perms.fs?.write ?? []) mount('--bind-try', path.resolve(input.pluginDir, p));
    mount('--bind', input.socketDir);
    b.push('--chdir', input.pluginDir, '--');
    argv = ['bwrap', ...b, ...argv];
    layers.push({
      layer: 'bubblewrap',
      applied: true,
      detail:
        'own mount namespace: /usr, the plugin dir, its runtime and declared paths read-only, granted write paths and its socket dir writable, nothing else; no capabilities',
    });
  } else {
    layers.push({
      layer: 'bubblewrap',
      applied: false,
      detail: off(
        'bwrap is not available or does not run here: the plugin sees the host file system (as its uid)',
      ),
    });
    if (useUnshare) {
      const needed = [
        input.pluginDir,
        ...input.runtimePaths,
        ...(perms.fs?.read ?? []).map((p) => path.resolve(input.pluginDir, p)),
        ...(perms.fs?.write ?? []).map((p) => path.resolve(input.pluginDir, p)),
        input.socketDir,
      ];
      const reach = reachScript(needed, path.join(input.socketDir, '.reach'));
      if (reach !== undefined) argv = ['sh', '-c', reach, 'plugbay-reach', ...argv];
      argv = ['unshare', ...unshareFlags, ...(net ? [] : ['--net']), '--', ...argv];
    }
  }

  const nsTool = useBwrap ? 'bwrap' : useUnshare ? 'unshare' : undefined;
  layers.push(
    nsTool
      ? {
          layer: 'pid-namespace',
          applied: true,
          detail: `own PID namespace (${nsTool}): the host and other plugins are invisible, no signal reaches them`,
        }
      : {
          layer: 'pid-namespace',
          applied: false,
          detail: off(
            'neither bwrap nor unshare (as root, with setpriv) runs here: the plugin can signal every process of its uid',
          ),
        },
  );
  if (net) {
    layers.push({
      layer: 'network-namespace',
      applied: false,
      detail: `the host's network, granted for ${(perms.net ?? []).join(', ')}: not filtered per host (every address, the host's loopback included)`,
    });
  } else {
    layers.push(
      nsTool
        ? {
            layer: 'network-namespace',
            applied: true,
            detail: `own empty network namespace (${nsTool}): no network, no host port (loopback included)`,
          }
        : {
            layer: 'network-namespace',
            applied: false,
            detail: off(
              'neither bwrap nor unshare (as root, with setpriv) runs here: the plugin reaches every network the host does, its loopback included',
            ),
          },
    );
  }
  let uidWhy = "setpriv is not available: the plugin runs as the host's uid";
  if (tools.setpriv && process.getuid?.() !== 0)
    uidWhy = "the host is not root: the plugin runs as the host's uid";
  layers.push(
    dropUid
      ? {
          layer: 'uid',
          applied: true,
          detail: `uid ${pluginUid}, gid ${pluginUid}, no supplementary groups, no capabilities (setpriv)`,
        }
      : { layer: 'uid', applied: false, detail: off(uidWhy) },
  );
  layers.push(seccompLayer(input, fd3 !== undefined));

  if (tools.prlimit && on) {
    const limits = ['--nofile=1024:1024', '--core=0'];
    // Node reserves far more address space than it uses (V8's cage, wasm memories): its cap is the heap flag.
    const as = input.runtime === 'exec' ? perms.memoryMb : undefined;
    if (as !== undefined) limits.push(`--as=${as * 1024 * 1024}`);
    argv = ['prlimit', ...limits, '--', ...argv];
    layers.push({
      layer: 'prlimit',
      applied: true,
      detail: `nofile 1024, no core dumps${as ? `, address space ${as} MB` : ''}`,
    });
  } else {
    layers.push({ layer: 'prlimit', applied: false, detail: off('prlimit is not available') });
  }

  // Outermost, so that the host's death kills the first process of the chain (bwrap or unshare then kill theirs).
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
  return {
    command,
    args,
    layers,
    ...(fd3 === undefined ? {} : { fd3 }),
    ...(dropUid ? { uid: pluginUid } : {}),
    ...(useBwrap ? { signalAsExitCode: 'bwrap' as const } : {}),
  };
}

/**
 * Without bwrap's fresh root, the plugin's uid must pass every parent of what it reads, and a host folder such as
 * /root (0700) stops it. In the plugin's own mount namespace (unshare, still root), each such parent is covered by an
 * empty tmpfs (0755) into which only the needed child is bound back: the paths stay the same, the rest of that
 * folder disappears from the plugin's view. A sh script that ends by exec'ing the plugin; undefined when nothing is
 * in the way.
 */
function reachScript(needed: readonly string[], stage: string): string | undefined {
  const blocked = new Map<string, Set<string>>();
  for (const target of needed) {
    for (
      let dir = path.dirname(target), child = target;
      dir !== child;
      child = dir, dir = path.dirname(dir)
    ) {
      let mode: number;
      try {
        mode = statSync(dir).mode;
      } catch {
        break; // a path that is not there: nothing to bind back (bwrap's --*-try binds skip it too)
      }
      if ((mode & 0o001) === 0) {
        const children = blocked.get(dir) ?? new Set<string>();
        children.add(path.basename(child));
        blocked.set(dir, children);
      }
    }
  }
  if (blocked.size === 0) return undefined;
  const q = (s: string): string => `'${s.replaceAll("'", "'\\''")}'`;
  const lines = ['set -e', `mkdir -p ${q(stage)}`];
  // Outermost first: a covered parent's bound-back child may hold the next one.
  for (const dir of [...blocked.keys()].sort((a, b) => a.length - b.length)) {
    lines.push(`mount --bind ${q(dir)} ${q(stage)}`, `mount -t tmpfs -o mode=0755 plugbay ${q(dir)}`);
    for (const name of blocked.get(dir)!) {
      const from = path.join(stage, name);
      const to = path.join(dir, name);
      lines.push(
        `if [ -d ${q(from)} ]; then mkdir ${q(to)}; else : > ${q(to)}; fi`,
        `mount --bind ${q(from)} ${q(to)}`,
      );
    }
    lines.push(`umount -l ${q(stage)}`);
  }
  lines.push(`rmdir ${q(stage)}`, 'exec "$@"');
  return lines.join('\n');
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
 * would apply). The machine is probed once per process.
 */
export async function sandboxReport(
  manifest: Manifest,
  permissions: Permissions = manifest.permissions ?? {},
  tools?: SandboxTools,
): Promise<SandboxLayer[]> {
  if (manifest.runtime !== 'node' && manifest.runtime !== 'exec') return [];
  tools ??= await detectSandboxTools();
  const { layers } = wrapCommand({
    runtime: manifest.runtime,
    argv: ['/plugin/entry'],
    permissions,
    pluginDir: '/plugin',
    runtimePaths: [],
    socketDir: '/tmp',
    tools,
    disabled: false,
  });
  return manifest.runtime === 'node' ? [...nodeLayers(permissions), ...layers] : layers;
}

/** The layers Node itself adds inside a node plugin's process (besides the OS layers of wrapCommand). */
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
      layer: 'parent-watch',
      applied: true,
      detail: 'exits within 2 s when the host dies (stdin pipe, ppid)',
    },
  ];
}

/**
 * The layers this machine cannot give process plugins (those a plugin without net grants would lack), in one
 * sentence for the start-up warning and `plugbay check`; undefined when every layer applies.
 */
export function sandboxGaps(tools: SandboxTools): string | undefined {
  const { layers } = wrapCommand({
    runtime: 'node',
    argv: ['/plugin/entry'],
    permissions: {},
    pluginDir: '/plugin',
    runtimePaths: [],
    socketDir: '/tmp',
    tools,
    disabled: false,
  });
  const missing = layers.filter((l) => !l.applied);
  if (missing.length === 0) return undefined;
  const why = missing.map((l) => `${l.layer}: ${l.detail}`).join('; ');
  return `process-tier plugins run without: ${missing.map((l) => l.layer).join(', ')} (${why})`;
}
