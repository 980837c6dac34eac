import { didYouMean } from '../core/suggest.js';
import { hostVersion } from '../core/version.js';
import { type CliIo, type Command, UsageError } from './io.js';

/** The commands as `plugbay --help` lists them, in this order. */
const summaries = {
  serve: 'serve the plugins of a directory over HTTP',
  check: 'check every plugin of a directory without running it; exit 1 if one is rejected',
  build: 'bundle TypeScript plugins and generate their plugin.json',
  keygen: 'write an Ed25519 key pair (<name>.key, <name>.pub) for signing plugins',
  sign: 'sign plugin directories (writes plugin.sig.json)',
  verify: "verify a plugin's signature against a keyring; exit 0 only when valid",
  pack: 'pack a plugin into one file (<name>@<version>.plugbay.tgz): what is signed and shipped',
  push: 'upload a plugin (folder or packed file) to an OCI registry as an artifact; prints its digest',
  pull: 'fetch a plugin from an OCI registry, verify digests and signature, write its packed file',
  contract: 'contract snapshot, diff (breaking-change rules) and check (the CI gate)',
  routes: "get or set a plugin's route on a running gateway (--url)",
  activate: 'make a version the stable on a running gateway (hot swap)',
  rollback: 'return a plugin to its previous stable on a running gateway',
  audit: 'show the audit log of a running gateway',
  rollout:
    'progressive rollout of a canary on a running gateway: start, status, pause, resume, promote, abort',
  grant: 'grant a plugin a capability (fs, env, net, childProcess) on a running gateway',
  revoke: 'take back a grant made with plugbay grant',
  grants: 'show the grants in force on a running gateway',
  test: 'run the conformance checks on one plugin; exit 1 if one fails',
  call: 'call one function (plugin.fn) on a running gateway (--url) or on a plugins folder (--plugins)',
  client: "write a typed TypeScript client of the functions (from a plugins folder or a gateway's OpenAPI)",
  new: 'create a plugin project (ts, assemblyscript, c, rust, go) that builds and passes its test',
};

// Commands load on demand: `plugbay build` should not pay for importing fastify.
const loaders: Record<keyof typeof summaries, () => Promise<Command>> = {
  serve: async () => (await import('./commands/serve.js')).serveCommand,
  check: async () => (await import('./commands/check.js')).checkCommand,
  build: async () => (await import('./commands/build.js')).buildCommand,
  keygen: async () => (await import('./commands/trust.js')).keygenCli,
  sign: async () => (await import('./commands/trust.js')).signCli,
  verify: async () => (await import('./commands/trust.js')).verifyCli,
  pack: async () => (await import('./commands/pack.js')).packCli,
  push: async () => (await import('./commands/oci.js')).pushCli,
  pull: async () => (await import('./commands/oci.js')).pullCli,
  contract: async () => (await import('./commands/contract.js')).contractCli,
  routes: async () => (await import('./commands/routes.js')).routesCommand,
  activate: async () => (await import('./commands/routes.js')).activateCommand,
  rollback: async () => (await import('./commands/routes.js')).rollbackCommand,
  audit: async () => (await import('./commands/routes.js')).auditCommand,
  rollout: async () => (await import('./commands/rollout.js')).rolloutCommand,
  grant: async () => (await import('./commands/grants.js')).grantCommand,
  revoke: async () => (await import('./commands/grants.js')).revokeCommand,
  grants: async () => (await import('./commands/grants.js')).grantsCommand,
  test: async () => (await import('./commands/test.js')).testCommand,
  call: async () => (await import('./commands/call.js')).callCommand,
  client: async () => (await import('./commands/client.js')).clientCommand,
  new: async () => (await import('./commands/new.js')).newCommand,
};

const commands = Object.entries(summaries).map(([name, summary]) => ({
  name,
  summary,
  load: loaders[name as keyof typeof summaries],
}));

export function usage(): string {
  const width = Math.max(...commands.map((c) => c.name.length));
  return `plugbay ${hostVersion} — a plugin host for Node.js

Usage: plugbay <command> [options]

Commands:
${commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`).join('\n')}

Options:
  -h, --help     show help (also: plugbay <command> --help)
  -v, --version  print the version`;
}

/** Runs the CLI with `argv` (without node and script) and returns the exit code: 0 ok, 1 failure, 2 usage. */
export async function runCli(argv: string[], io: CliIo): Promise<number> {
  const [first, ...rest] = argv;
  if (first === undefined || first === '--help' || first === '-h' || first === 'help') {
    if (first === undefined) {
      io.err(usage());
      return 2;
    }
    const topic = first === 'help' ? commands.find((c) => c.name === rest[0]) : undefined;
    io.out(topic ? (await topic.load()).usage : usage());
    return 0;
  }
  if (first === '--version' || first === '-v') {
    io.out(hostVersion);
    return 0;
  }
  const entry = commands.find((c) => c.name === first);
  if (entry === undefined) {
    const hint = didYouMean(first, Object.keys(summaries));
    io.err(`plugbay: unknown command "${first}"${hint}; see plugbay --help`);
    return 2;
  }
  const command = await entry.load();
  if (rest.includes('--help') || rest.includes('-h')) {
    io.out(command.usage);
    return 0;
  }
  try {
    return await command.run(rest, io);
  } catch (err) {
    if (err instanceof UsageError && err.brief) {
      io.err(`plugbay ${command.name}: ${err.message}; see plugbay ${command.name} --help`);
      return 2;
    }
    if (err instanceof UsageError) {
      io.err(`plugbay ${command.name}: ${err.message}\n\nUsage: ${command.usage}`);
      return 2;
    }
    throw err;
  }
}
