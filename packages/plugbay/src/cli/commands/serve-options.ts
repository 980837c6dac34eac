// Every option of `plugbay serve` as data: parseArgs reads `type`, the usage text and the config reference in
// docs/operating-the-gateway.md are generated from the rest. Add an option here and both follow.

export interface ServeFlag {
  type: 'string' | 'boolean';
  /** Repeatable: parseArgs collects every occurrence. */
  multiple?: boolean;
  /** The value's placeholder in usage, e.g. `<port>`; none for a boolean. */
  value?: string;
  /** The default as an operator would write it; '' when unset means "none". Not parseArgs' `default`. */
  defaultText: string;
  /** What it does, one or two sentences. */
  help: string;
  group: 'gateway' | 'admin' | 'trust' | 'rollout';
}

export const serveFlags = {
  port: {
    type: 'string',
    value: '<port>',
    defaultText: '7070',
    help: 'TCP port to listen on; 0 picks a free one (the log line "listening" says which).',
    group: 'gateway',
  },
  host: {
    type: 'string',
    value: '<address>',
    defaultText: '127.0.0.1',
    help: 'Interface to listen on. The default is loopback only; 0.0.0.0 or :: listens on every interface.',
    group: 'gateway',
  },
  'body-limit': {
    type: 'string',
    value: '<bytes>',
    defaultText: '1048576',
    help: 'Largest request body; a larger one is refused with 413 before it is parsed.',
    group: 'gateway',
  },
  'max-timeout-ms': {
    type: 'string',
    value: '<ms>',
    defaultText: '60000',
    help:
      'Largest deadline a caller may ask for with x-plugbay-timeout-ms; a larger one is refused with 400. Deadlines ' +
      "from the plugins' manifests are not capped.",
    group: 'gateway',
  },
  'allow-origin': {
    type: 'string',
    multiple: true,
    value: '<origin>',
    defaultText: '',
    help:
      'Repeatable. A web origin (https://ops.example.com) whose pages may send calls and admin changes; without ' +
      "it, browsers may only send those from the gateway's own origin (the dashboard).",
    group: 'gateway',
  },
  'allow-host': {
    type: 'string',
    multiple: true,
    value: '<name>',
    defaultText: '',
    help:
      'Repeatable. A Host name accepted besides IP addresses, localhost and --host (Host is checked against DNS ' +
      'rebinding on every listen address): the name clients use to reach the gateway.',
    group: 'gateway',
  },
  'crashloop-cooldown-ms': {
    type: 'string',
    value: '<ms>',
    defaultText: '30000',
    help:
      'How long a crash-looped version waits before its automatic half-open retry; doubles while it keeps crashing, ' +
      'up to 5 min or this value if larger. `plugbay activate` retries at once (docs: Recovering a crash-looped version).',
    group: 'gateway',
  },
  'shutdown-timeout-ms': {
    type: 'string',
    value: '<ms>',
    defaultText: '10000',
    help:
      'After SIGTERM or SIGINT, how long requests in flight may take; then every connection still open is closed ' +
      '(its call cancelled, a body still arriving cut) and the plugins are stopped.',
    group: 'gateway',
  },
  'admin-token': {
    type: 'string',
    value: '<token>',
    defaultText: '',
    help:
      'Bearer token the admin API asks for (authorization: Bearer <token>), 16+ printable characters; required ' +
      'when --host or --admin-host is beyond loopback. Visible in ps: prefer --admin-token-file.',
    group: 'admin',
  },
  'admin-token-file': {
    type: 'string',
    value: '<file>',
    defaultText: '',
    help: 'Reads the admin token from this file (one line; the trailing newline is dropped).',
    group: 'admin',
  },
  'admin-port': {
    type: 'string',
    value: '<port>',
    defaultText: '',
    help:
      'Serves the admin API, status routes, /metrics and the dashboard on a listener of their own; the --port ' +
      'listener then serves calls, /healthz and /readyz only. Without it, one listener serves everything.',
    group: 'admin',
  },
  'admin-host': {
    type: 'string',
    value: '<address>',
    defaultText: '127.0.0.1',
    help: 'Interface of the --admin-port listener.',
    group: 'admin',
  },
  source: {
    type: 'string',
    multiple: true,
    value: '<oci://registry/repo:tag>',
    defaultText: '',
    help:
      'Repeatable. A plugin pushed with "plugbay push" (a tag, or @sha256:… to pin) to load beside the directory: pulled and verified (digests, ' +
      'signature against --keyring), cached by digest in oci/ beside the state file; a restart with the registry ' +
      'unreachable serves the cached digest of each tag.',
    group: 'trust',
  },
  'source-poll-ms': {
    type: 'string',
    value: '<ms>',
    defaultText: '30000',
    help:
      'How often each --source tag is resolved again; a new digest is pulled, verified and rolled out like a new ' +
      'folder version (--rollout). 0: only at start.',
    group: 'trust',
  },
  'registry-insecure': {
    type: 'boolean',
    defaultText: 'false',
    help: 'Plain HTTP to the --source registries; allowed only for registries on loopback.',
    group: 'trust',
  },
  keyring: {
    type: 'string',
    value: '<dir>',
    defaultText: '',
    help:
      'Public keys (*.pub) trusted to sign plugins; keyring.json gives a key the "trusted" level or revokes it ' +
      '(other keys: "community").',
    group: 'trust',
  },
  signatures: {
    type: 'string',
    value: '<mode>',
    defaultText: 'required (warn with --dev)',
    help:
      'required: only validly signed plugins load; warn: unsigned, modified or badly signed plugins load at the ' +
      '"unsigned" level with a warning; off: not checked.',
    group: 'trust',
  },
  'allow-unsigned': {
    type: 'string',
    value: '<names>',
    defaultText: '',
    help: 'Comma-separated plugin names (or @scope/*) that may load unsigned under --signatures required.',
    group: 'trust',
  },
  exports: {
    type: 'string',
    value: '<mode>',
    defaultText: 'warn',
    help: 'warn or strict: strict refuses a plugin exporting functions its manifest does not declare.',
    group: 'trust',
  },
  contracts: {
    type: 'string',
    value: '<dir>',
    defaultText: '',
    help:
      'Contract snapshots (*.json from plugbay contract snapshot) plugins may claim in "implements"; a plugin ' +
      'that does not fit its contract is not loaded.',
    group: 'trust',
  },
  grants: {
    type: 'string',
    value: '<file>',
    defaultText: '',
    help:
      'JSON file of capabilities granted to plugins beyond the defaults of their trust level (community and ' +
      'unsigned: nothing outside their own folder, no env, network or child processes): ' +
      '{"grants": [{"plugin", "versions"?, "capabilities": ["fs.read:/etc/ssl", "env:HOME", …]}]} (docs/grants.md).',
    group: 'trust',
  },
  inline: {
    type: 'string',
    value: '<names>',
    defaultText: '',
    help:
      "Comma-separated plugins to run in the inline tier (the gateway's own thread); only plugins signed by a " +
      '"trusted" key may.',
    group: 'trust',
  },
  dev: {
    type: 'boolean',
    defaultText: 'off',
    help: 'A development gateway: --signatures warn and --rollout activate unless those are given.',
    group: 'trust',
  },
  watch: {
    type: 'boolean',
    defaultText: 'off',
    help:
      'With --dev: rebuild TypeScript plugins of the directory on save (esbuild incremental) and swap the ' +
      'running version in place (same version, new instance, old one drained; no call fails).',
    group: 'trust',
  },
  'dev-tier': {
    type: 'string',
    value: '<tier>',
    defaultText: 'by signature (unsigned: process)',
    help:
      'With --dev: run Node plugins in this tier (thread or process) whatever their signature, the tier ' +
      'production gives them once signed (thread for a trusted key, process otherwise).',
    group: 'trust',
  },
  state: {
    type: 'string',
    value: '<file-or-url>',
    defaultText: '.plugbay/state.db',
    help:
      'SQLite file with routes, stable history and the audit log, relative to the current directory. Held ' +
      'locked while serving; a corrupt, locked or newer file stops startup (exit 1); it is never reset. ' +
      'A postgres:// URL shares the state with every gateway on that database: changes arrive by ' +
      'LISTEN/NOTIFY, with a full reconcile every 10 s; artifacts then go to .plugbay/artifacts.',
    group: 'rollout',
  },
  'heartbeat-ms': {
    type: 'string',
    value: '<ms>',
    defaultText: '5000',
    help:
      'With a postgres:// --state: how often this gateway writes its heartbeat (host, pid, address, route ' +
      'revision) for GET /v1/fleet, which reports a gateway stale after 3 intervals without one; at least 50.',
    group: 'rollout',
  },
  rollout: {
    type: 'string',
    value: '<policy>',
    defaultText: 'manual (activate with --dev)',
    help:
      'What a new version dropped into the directory does: manual (loaded, not routed), activate (made the ' +
      'stable), canary:<percent> (a canary of that share).',
    group: 'rollout',
  },
  'settle-ms': {
    type: 'string',
    value: '<ms>',
    defaultText: '500',
    help: 'A new version folder is loaded once its files have not changed for this long.',
    group: 'rollout',
  },
  'watch-interval-ms': {
    type: 'string',
    value: '<ms>',
    defaultText: '2000',
    help: 'Rescan period of the plugins directory (catches what fs.watch misses); at least 10.',
    group: 'rollout',
  },
} as const satisfies Record<string, ServeFlag>;

/** The positional argument. */
export const serveDirArgument = {
  name: '[dir]',
  defaultText: './plugins',
  help: 'the plugins directory: each subfolder is a plugin version (name@version folders side by side).',
} as const;

/** Environment variables `plugbay serve` reads. */
export const serveEnv = [
  {
    name: 'LOG_LEVEL',
    defaultText: 'info',
    help: 'pino level of the JSON log lines on stderr: trace, debug, info, warn, error, fatal or silent.',
  },
] as const;

/** The groups of the options, in usage and doc order. */
export const serveFlagGroups: Record<ServeFlag['group'], string> = {
  gateway: 'Gateway',
  admin: 'Admin API',
  trust: 'Trust and contracts',
  rollout: 'State and rollout',
};

/** `--port <port>` */
export function flagSynopsis(name: string, flag: ServeFlag): string {
  return flag.value === undefined ? `--${name}` : `--${name} ${flag.value}`;
}

/** The options part of `plugbay serve --help`, grouped, wrapped to 110 columns. */
export function serveFlagsUsage(): string {
  const flags = Object.entries(serveFlags) as [string, ServeFlag][];
  const width = Math.max(...flags.map(([name, flag]) => flagSynopsis(name, flag).length)) + 2;
  const out: string[] = [];
  for (const group of Object.keys(serveFlagGroups) as ServeFlag['group'][]) {
    out.push(`${serveFlagGroups[group]}:`);
    for (const [name, flag] of flags.filter(([, f]) => f.group === group)) {
      const text = flag.defaultText === '' ? flag.help : `${flag.help} Default: ${flag.defaultText}.`;
      wrap(text, 108 - width).forEach((line, i) => {
        out.push(`  ${(i === 0 ? flagSynopsis(name, flag) : '').padEnd(width)}${line}`);
      });
    }
  }
  return out.join('\n');
}

function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(' ')) {
    if (line !== '' && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else line = line === '' ? word : `${line} ${word}`;
  }
  if (line !== '') lines.push(line);
  return lines;
}
