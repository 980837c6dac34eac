// Helpers for tests: temporary plugin directories written from code, removed after the test.
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { TestContext } from 'node:test';
import { cleanup } from './cleanup.js';

export interface PluginFiles {
  /** plugin.json contents: an object (serialised) or raw text (to test broken JSON); omitted = no plugin.json. */
  manifest?: Record<string, unknown> | string;
  /** Other files by relative path. */
  files?: Record<string, string>;
}

/** A temp directory removed when the test ends. */
export async function tempDir(t: TestContext, prefix = 'plugbay-test-'): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  cleanup(t, () => rm(dir, { recursive: true, force: true, maxRetries: 3 }));
  return dir;
}

/** Writes one plugin directory below `root`. */
export async function writePlugin(root: string, folder: string, spec: PluginFiles): Promise<string> {
  const dir = join(root, folder);
  await mkdir(dir, { recursive: true });
  if (spec.manifest !== undefined) {
    const text = typeof spec.manifest === 'string' ? spec.manifest : JSON.stringify(spec.manifest, null, 2);
    await writeFile(join(dir, 'plugin.json'), text);
  }
  for (const [path, content] of Object.entries(spec.files ?? {})) {
    await mkdir(dirname(join(dir, path)), { recursive: true });
    await writeFile(join(dir, path), content);
  }
  return dir;
}

/** A valid manifest for a node plugin with one `echo` function; override any field. */
export function manifest(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    name: 'echo',
    version: '1.0.0',
    runtime: 'node',
    entry: 'index.mjs',
    functions: {
      echo: {
        input: {
          type: 'object',
          properties: { text: { type: 'string' } },
          required: ['text'],
          additionalProperties: false,
        },
        output: { type: 'object', properties: { text: { type: 'string' } }, required: ['text'] },
      },
    },
    ...overrides,
  };
}

/** Plugin source (ESM) defining the given functions' handler bodies; `handlers` maps name → JS function source. */
export function pluginSource(
  name: string,
  version: string,
  handlers: Record<string, string>,
  hooks = '',
): string {
  const fns = Object.entries(handlers)
    .map(([fn, body]) => `    ${fn}: { input: {}, output: {}, handler: ${body} },`)
    .join('\n');
  return `export default {\n  name: ${JSON.stringify(name)},\n  version: ${JSON.stringify(version)},\n  functions: {\n${fns}\n  },\n${hooks}\n};\n`;
}

/** `svc@<version>` in `root`: one function, `who`, that answers its own version (which version served a call). */
export async function writeSvcVersion(root: string, version: string): Promise<void> {
  await writePlugin(root, `svc@${version}`, {
    manifest: manifest({ name: 'svc', version, functions: { who: { input: {}, output: {} } } }),
    files: {
      'index.mjs': `export default { name: 'svc', version: '${version}', functions: {
        who: { input: {}, output: {}, handler: () => '${version}' } } };\n`,
    },
  });
}
