// `plugbay serve`'s admin API options: the token (from the command line or a file), the admin API's own listener,
// and the rule that a gateway listening beyond loopback has a token (refused here, naming the options).
import { readFile } from 'node:fs/promises';
import { adminTokenProblem, isLoopback } from '../../gateway/admin-auth.js';
import type { GatewayOptions } from '../../gateway/server.js';
import { portOption } from '../args.js';
import { UsageError } from '../io.js';

export interface ServeAdminValues {
  host?: string | undefined;
  'admin-token'?: string | undefined;
  'admin-token-file'?: string | undefined;
  'admin-port'?: string | undefined;
  'admin-host'?: string | undefined;
}

export type ServeAdminOptions = Pick<GatewayOptions, 'adminToken' | 'adminPort' | 'adminHostname'>;

/** Reads and checks the admin options; `port` is the traffic listener's (--port). */
export async function serveAdmin(values: ServeAdminValues, port: number): Promise<ServeAdminOptions> {
  const adminToken = await tokenOf(values);
  const portText = values['admin-port'];
  const adminPort = portText === undefined ? undefined : portOption(portText, 0, '--admin-port');
  if (adminPort !== undefined && adminPort !== 0 && adminPort === port) {
    throw new UsageError(`--admin-port must differ from --port (${port})`);
  }
  const adminHostname = values['admin-host'];
  if (adminHostname !== undefined && adminPort === undefined) {
    throw new UsageError(
      '--admin-host needs --admin-port (without it the admin API is on the --port listener)',
    );
  }
  const listeners = [
    values.host ?? '127.0.0.1',
    ...(adminPort === undefined ? [] : [adminHostname ?? '127.0.0.1']),
  ];
  const exposed = listeners.filter((name) => !isLoopback(name));
  if (adminToken === undefined && exposed.length > 0) {
    throw new UsageError(
      `listening beyond loopback (${exposed.join(', ')}) needs --admin-token-file <file> or --admin-token <token>: ` +
        'without a token, anyone who reaches the port could change routes and activate versions',
    );
  }
  return {
    ...(adminToken === undefined ? {} : { adminToken }),
    ...(adminPort === undefined ? {} : { adminPort }),
    ...(adminHostname === undefined ? {} : { adminHostname }),
  };
}

async function tokenOf(values: ServeAdminValues): Promise<string | undefined> {
  const given = values['admin-token'];
  const file = values['admin-token-file'];
  if (given !== undefined && file !== undefined) {
    throw new UsageError('give the admin token once: --admin-token or --admin-token-file, not both');
  }
  let token = given;
  let source = '--admin-token';
  if (file !== undefined) {
    source = `--admin-token-file ${file}`;
    try {
      // One line; the newline an editor or `echo` leaves is not part of the token.
      token = (await readFile(file, 'utf8')).replace(/\r?\n$/, '');
    } catch (err) {
      throw new UsageError(`--admin-token-file: cannot read ${file}: ${(err as Error).message}`);
    }
  }
  if (token === undefined) return undefined;
  const rule = adminTokenProblem(token);
  if (rule !== undefined) throw new UsageError(`${source}: the admin token must be ${rule}`);
  return token;
}
