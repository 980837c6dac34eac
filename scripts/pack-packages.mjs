// `npm run pack`: both packages as npm tarballs (plugbay-<v>.tgz, plugbay-sdk-<v>.tgz) in one folder, to install
// where the registry does not have them: `npm install ./plugbay-sdk-<v>.tgz ./plugbay-<v>.tgz` in one command
// (plugbay depends on @plugbay/sdk at the same version; npm takes it from the tarball next to it).
// Usage: node scripts/pack-packages.mjs [--out <dir>] (default: packed/). Expects the packages built (tsc -b).
// Packs copies in a temporary folder: plugbay's prepack copies proto/ into its package folder and postpack removes
// it, which in the checkout would pull the ground from under a test running beside (tiers/process/proto.ts).
import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const at = process.argv.indexOf('--out');
const out = resolve(at === -1 ? join(root, 'packed') : process.argv[at + 1]);
mkdirSync(out, { recursive: true });

const staging = mkdtempSync(join(tmpdir(), 'plugbay-pack-'));
try {
  const copy = (path) => cpSync(join(root, path), join(staging, path), { recursive: true });
  copy('proto');
  for (const path of ['package.json', 'dist']) copy(`packages/sdk/${path}`);
  for (const path of ['package.json', 'bin', 'dist', 'schema', 'templates', 'scripts'])
    copy(`packages/plugbay/${path}`);
  const json = execFileSync(
    'npm',
    [
      'pack',
      '--json',
      '--pack-destination',
      out,
      join(staging, 'packages/sdk'),
      join(staging, 'packages/plugbay'),
    ],
    { cwd: staging, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const files = JSON.parse(json).map((p) => join(out, p.filename));
  const shown = files.map((f) => relative(process.cwd(), f) || f);
  process.stdout.write(
    `${shown.join('\n')}\n\ninstall both in one command (no registry needed for them):\n  npm install ${files.join(' ')}\n`,
  );
} finally {
  rmSync(staging, { recursive: true, force: true });
}
