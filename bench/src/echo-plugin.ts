// Writes the echo plugin the call benchmarks load: one function with real input and output schemas.
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const payload = { text: 'x'.repeat(52) }; // 64 bytes of JSON

export async function writeEchoPlugin(): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), 'plugbay-bench-'));
  const dir = join(root, 'echo');
  await mkdir(dir);
  const schema = {
    type: 'object',
    properties: { text: { type: 'string' } },
    required: ['text'],
    additionalProperties: false,
  };
  await writeFile(
    join(dir, 'plugin.json'),
    JSON.stringify({
      name: 'echo',
      version: '1.0.0',
      runtime: 'node',
      entry: 'index.mjs',
      functions: { echo: { input: schema, output: schema } },
    }),
  );
  await writeFile(
    join(dir, 'index.mjs'),
    `export default { name: 'echo', version: '1.0.0', functions: { echo: { input: {}, output: {}, handler: (input) => ({ text: input.text }) } } };\n`,
  );
  return dir;
}
