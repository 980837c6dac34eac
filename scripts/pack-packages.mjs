// `npm run pack`: both packages as npm tarballs (plugbay-<v>.tgz, plugbay-sdk-<v>.tgz) in one folder, to install
// where the registry does not have them: `npm install ./plugbay-sdk-<v>.tgz ./plugbay-<v>.tgz` in one command
// (plugbay depends on @plugbay/sdk at the same version; npm takes it from the tarball next to it).
// Usage: node scripts/pack-packages.mjs [--out <dir>] (default: packed/). Expects the packages built (tsc -b).
import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const at = process.argv.indexOf('--out');
const out = resolve(at === -1 ? join(root, 'packed') : process.argv[at + 1]);
mkdirSync(out, { recursive: true });
const json = execFileSync(
  'npm',
  [
    'pack',
    '--json',
    '--workspace',
    'packages/sdk',
    '--workspace',
    'packages/plugbay',
    '--pack-destination',
    out,
  ],
  { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] },
);
const files = JSON.parse(json).map((p) => join(out, p.filename));
const shown = files.map((f) => relative(process.cwd(), f) || f);
process.stdout.write(
  `${shown.join('\n')}\n\ninstall both in one command (no registry needed for them):\n  npm install ${files.join(' ')}\n`,
);
