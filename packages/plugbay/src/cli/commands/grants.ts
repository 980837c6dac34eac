// `plugbay grant`, `plugbay revoke`, `plugbay grants`: the operator's grants on a running gateway (docs/grants.md).
import type { GrantResult, GrantStatus, RevokeResult } from '../../host/types.js';
import type { Command } from '../io.js';
import { table } from '../table.js';
import { adminOptionsUsage, finish, parseAdminArgs, postToPlugin, request } from './admin-client.js';

const capabilities = `Capabilities: fs.read:<absolute path> (read it and below), fs.write:<absolute path> (read and write),
env:<NAME>, net:<host[:port]> (as the manifest's permissions.net writes it), childProcess.`;

export const grantCommand: Command = {
  name: 'grant',
  usage: `plugbay grant <plugin> <capability>

Grants a capability to every version of a plugin on a running gateway: community and unsigned plugins get nothing
outside their own folder unless the operator grants it. Stored in the gateway's state and audited; each version
that was refused for want of a grant (PLUGBAY_PERMISSION_DENIED) is loaded again.
${capabilities}
${adminOptionsUsage}`,
  async run(args, io) {
    const { positionals, values } = parseAdminArgs(args, '<plugin> <capability>', 2);
    const [plugin, capability] = positionals as [string, string];
    const answer = await postToPlugin(values, plugin, 'grant', { capability });
    return finish(io, values, answer, (r: GrantResult) => {
      const lines = [`${r.plugin}: granted ${r.capability}`];
      for (const v of r.loaded) lines.push(`  loaded ${v.plugin}@${v.version}`);
      for (const v of r.refused)
        lines.push(`  still refused ${r.plugin}@${v.version}: ${v.code}: ${v.message}`);
      return lines.join('\n');
    });
  },
};

export const revokeCommand: Command = {
  name: 'revoke',
  usage: `plugbay revoke <plugin> <capability>

Takes back a grant made with plugbay grant (audited). Each loaded version that needed it is drained and unloaded,
and loads again once granted. Grants of the --grants file are changed in the file.
${adminOptionsUsage}`,
  async run(args, io) {
    const { positionals, values } = parseAdminArgs(args, '<plugin> <capability>', 2);
    const [plugin, capability] = positionals as [string, string];
    const answer = await postToPlugin(values, plugin, 'revoke', { capability });
    return finish(io, values, answer, (r: RevokeResult) =>
      [`${r.plugin}: revoked ${r.capability}`, ...r.unloaded.map((v) => `  unloaded ${r.plugin}@${v}`)].join(
        '\n',
      ),
    );
  },
};

export const grantsCommand: Command = {
  name: 'grants',
  usage: `plugbay grants [plugin]

The grants in force on a running gateway: from its --grants file and made at run time with plugbay grant.
${adminOptionsUsage}`,
  async run(args, io) {
    const { positionals, values } = parseAdminArgs(args, 'at most one plugin', 0, 1);
    const query = positionals[0] === undefined ? '' : `?plugin=${encodeURIComponent(positionals[0])}`;
    const answer = await request(values, 'GET', `/v1/grants${query}`);
    return finish(io, values, answer, (b: { grants: GrantStatus[] }) =>
      b.grants.length === 0
        ? 'no grants'
        : table(
            ['plugin', 'capability', 'source', 'versions'],
            b.grants.map((g) => [g.plugin, g.capability, g.source, g.versions ?? '*']),
          ),
    );
  },
};
