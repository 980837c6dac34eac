// The published packages are enough to run a process-tier plugin: `npm pack` of plugbay ships proto/ (copied in by
// prepack, removed by postpack) and, unpacked outside the repo next to the packed @plugbay/sdk, a Node plugin loads
// and answers through the frames carrier, which needs those .proto files. Dependencies are linked from the repo's
// node_modules (an `npm install` of the tarballs would need the network for what the npm cache lacks).
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { tempRoot } from './test-helpers.js';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../../..');
const protoFiles = [
  'proto/grpc/health/v1/health.proto',
  'proto/plugbay/v1/plugin.proto',
  'proto/plugin/grpc_controller.proto',
  'proto/plugin/grpc_stdio.proto',
];

interface Packed {
  filename: string;
  files: { path: string }[];
}

function pack(packageDir: string, destination: string): Packed {
  const out = execFileSync('npm', ['pack', '--json', '--pack-destination', destination], {
    cwd: packageDir,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return (JSON.parse(out) as Packed[])[0] as Packed;
}

/** Symlinks every package of `from` into `to` except `skip` (which the test provides itself). */
function linkPackages(from: string, to: string, skip: string[]): void {
  fs.mkdirSync(to, { recursive: true });
  for (const name of fs.readdirSync(from)) {
    if (name.startsWith('.') || skip.includes(name)) continue;
    if (!fs.existsSync(path.join(to, name))) fs.symlinkSync(path.join(from, name), path.join(to, name));
  }
}

describe('published package', () => {
  const dirs = tempRoot();
  after(() => dirs.cleanup());

  it('npm pack ships proto/ and removes its copy afterwards; the unpacked packages run a process plugin', async () => {
    const packed = pack(path.join(repo, 'packages/plugbay'), dirs.root);
    const sdk = pack(path.join(repo, 'packages/sdk'), dirs.root);
    const listed = packed.files.map((f) => f.path);
    for (const file of protoFiles) assert.ok(listed.includes(file), `${file} in the tarball`);
    // Tests and their helpers stay out of what users install (package.json `files`).
    const testOnly =
      /\.test\.|test-support|test-helpers|test-fixtures|isolation-suite|fault-child|call-context/;
    assert.deepEqual(
      [...listed, ...sdk.files.map((f) => f.path)].filter((p) => p.startsWith('dist/') && testOnly.test(p)),
      [],
    );
    assert.equal(
      fs.existsSync(path.join(repo, 'packages/plugbay/proto')),
      false,
      'postpack removed the copy',
    );

    // An app outside the repo: nothing above it has a proto/ directory.
    const app = path.join(dirs.root, 'app');
    const modules = path.join(app, 'node_modules');
    for (const [tarball, where] of [
      [packed.filename, 'plugbay'],
      [sdk.filename, '@plugbay/sdk'],
    ] as const) {
      fs.mkdirSync(path.join(modules, where), { recursive: true });
      execFileSync('tar', [
        'xzf',
        path.join(dirs.root, tarball),
        '-C',
        path.join(modules, where),
        '--strip-components=1',
      ]);
    }
    linkPackages(
      path.join(repo, 'packages/plugbay/node_modules'),
      path.join(modules, 'plugbay/node_modules'),
      [],
    );
    linkPackages(path.join(repo, 'node_modules'), modules, ['plugbay', '@plugbay']);

    const plugin = path.join(app, 'plugins/echo');
    fs.mkdirSync(plugin, { recursive: true });
    fs.writeFileSync(
      path.join(plugin, 'plugin.json'),
      JSON.stringify({
        name: 'echo',
        version: '1.0.0',
        runtime: 'node',
        entry: 'index.mjs',
        functions: { echo: { input: { type: 'object' }, output: { type: 'object' } } },
      }),
    );
    fs.writeFileSync(
      path.join(plugin, 'index.mjs'),
      `export default { name: 'echo', version: '1.0.0', functions: { echo: { input: {}, output: {}, handler: (input) => ({ input, pid: process.pid }) } } };\n`,
    );
    fs.writeFileSync(
      path.join(app, 'run.mjs'),
      `import { createHost, createProcessTier } from 'plugbay';
import pino from 'pino';
const host = createHost({ tiers: { process: createProcessTier() }, tierFor: () => 'process', logger: pino({ level: 'silent' }) });
await host.load(${JSON.stringify(plugin)});
const out = await host.call('echo', 'echo', { hello: 'packed' });
await host.close();
console.log(JSON.stringify({ out, hostPid: process.pid }));
`,
    );
    const child = spawn(process.execPath, ['run.mjs'], { cwd: app, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
    assert.equal(code, 0, stderr);
    const result = JSON.parse(stdout) as { out: { input: unknown; pid: number }; hostPid: number };
    assert.deepEqual(result.out.input, { hello: 'packed' });
    assert.notEqual(result.out.pid, result.hostPid, 'answered from its own process');
  });
});
