import { createRequire } from 'node:module';

/** This host's own version, checked against each plugin's `engines.plugbay`. */
export const hostVersion: string = (
  createRequire(import.meta.url)('../../package.json') as { version: string }
).version;
