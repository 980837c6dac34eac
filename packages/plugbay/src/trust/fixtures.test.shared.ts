// Shared by the trust tests (named like store/contract.test.shared.ts: not a test file, not published).
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface TestKey {
  privateKey: KeyObject;
  publicKey: KeyObject;
  publicPem: string;
}

export function newKey(): TestKey {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  return { privateKey, publicKey, publicPem: publicKey.export({ format: 'pem', type: 'spki' }).toString() };
}

export async function tempDir(
  prefix: string,
): Promise<{ path: string; [Symbol.asyncDispose](): Promise<void> }> {
  const path = await mkdtemp(join(tmpdir(), `plugbay-${prefix}-`));
  return { path, [Symbol.asyncDispose]: () => rm(path, { recursive: true, force: true }) };
}

/** A small plugin: manifest, entry, a nested file, and a symlink inside the directory. */
export async function writePlugin(dir: string, name = 'greeter', version = '1.0.0'): Promise<void> {
  await mkdir(join(dir, 'lib'), { recursive: true });
  const manifest = {
    name,
    version,
    runtime: 'node',
    entry: 'index.js',
    functions: { greet: { input: { type: 'object' }, output: { type: 'string' } } },
  };
  await writeFile(join(dir, 'plugin.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  await writeFile(join(dir, 'index.js'), "export default { greet: () => 'hi' };\n");
  await writeFile(join(dir, 'lib', 'util.js'), 'export const x = 1;\n');
  await writeFile(join(dir, 'lib', 'other.js'), 'export const y = 2;\n');
  await symlink('lib/util.js', join(dir, 'util-link.js'));
}
