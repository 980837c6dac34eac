import semver from 'semver';
import type { Manifest } from './manifest.js';
import { hostVersion } from './version.js';

/** The facts about this host that plugins are checked against. */
export interface HostEnvironment {
  plugbay: string;
  node: string;
  os: string;
  cpu: string;
  abi: string;
}

export const currentEnvironment: HostEnvironment = {
  plugbay: hostVersion,
  node: process.versions.node,
  os: process.platform,
  cpu: process.arch,
  abi: process.versions.modules,
};

/** One engine or platform mismatch, with both sides. */
export interface EngineMismatch {
  field: string;
  required: string;
  actual: string;
  message: string;
}

/** Every way the plugin's engines and platform disagree with the host; empty when compatible. */
export function checkEngines(m: Manifest, env: HostEnvironment = currentEnvironment): EngineMismatch[] {
  const out: EngineMismatch[] = [];
  const range = (field: string, required: string | undefined, actual: string, what: string) => {
    if (required !== undefined && !semver.satisfies(actual, required, { includePrerelease: true })) {
      out.push({ field, required, actual, message: `needs ${what} ${required}, this host has ${actual}` });
    }
  };
  range('engines.plugbay', m.engines?.plugbay, env.plugbay, 'plugbay');
  range('engines.node', m.engines?.node, env.node, 'Node.js');
  const list = (field: string, allowed: string[] | undefined, actual: string, what: string) => {
    if (allowed === undefined || allowed.length === 0) return;
    const denied = allowed.filter((a) => a.startsWith('!')).map((a) => a.slice(1));
    const wanted = allowed.filter((a) => !a.startsWith('!'));
    if (denied.includes(actual) || (wanted.length > 0 && !wanted.includes(actual))) {
      out.push({
        field,
        required: allowed.join(','),
        actual,
        message: `built for ${what} ${allowed.join(', ')}, this host is ${actual}`,
      });
    }
  };
  list('platform.os', m.platform?.os, env.os, 'OS');
  list('platform.cpu', m.platform?.cpu, env.cpu, 'CPU');
  const abi = m.platform?.abi;
  if (abi !== undefined && abi !== env.abi) {
    out.push({
      field: 'platform.abi',
      required: abi,
      actual: env.abi,
      message: `native code built for Node ABI ${abi} (process.versions.modules), this host has ${env.abi}`,
    });
  }
  return out;
}
