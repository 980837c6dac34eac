// The generated part of docs/manifest.md: every field of packages/plugbay/schema/plugin.schema.json (walked from
// the TypeBox source it is generated from), with its type, the runtimes it applies to, its description and an
// example taken from the schema's own `examples`; then one complete manifest per runtime, checked by the test.
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { manifestSchema } from '../core/manifest-schema.js';
import { blocks, code, fence, table } from './markdown.js';

/** The page, relative to the repository root. */
export const manifestDoc = 'docs/manifest.md';

type Schema = Record<string, unknown>;

/** One documented field. */
export interface ManifestField {
  path: string;
  type: string;
  required: boolean;
  runtimes: string;
  description: string;
  example: unknown;
}

// Fields that do not apply to every runtime; a prefix covers the fields below it.
const runtimesOf: [prefix: string, runtimes: string][] = [
  ['protocol', 'exec'],
  ['handshake', 'exec'],
  ['proto', 'exec (go-plugin)'],
  ['service', 'exec (go-plugin)'],
  ['platform.abi', 'node (native addons)'],
  ['wasm', 'wasm'],
  ['permissions.fs.mounts', 'wasm'],
  ['permissions.fs.read', 'node, exec (process tier)'],
  ['permissions.fs.write', 'node, exec (process tier)'],
  ['permissions.childProcess', 'node, exec (process tier)'],
  ['functions.<name>.codec', 'wasm, exec'],
  ['functions.<name>.contentType', 'wasm, exec'],
];

function runtimes(path: string): string {
  return runtimesOf.find(([prefix]) => path === prefix || path.startsWith(`${prefix}.`))?.[1] ?? 'all';
}

function typeOf(s: Schema): string {
  if (Array.isArray(s.enum)) return (s.enum as string[]).map((v) => JSON.stringify(v)).join(' | ');
  if (s.type === 'array') {
    const items = (s.items ?? {}) as Schema;
    return `${items.type === 'object' ? 'object' : typeOf(items)}[]`;
  }
  if (typeof s.type === 'string') return s.type;
  return 'JSON Schema';
}

/** Every field of the manifest schema, depth first, in the schema's order. */
export function manifestFields(): ManifestField[] {
  const out: ManifestField[] = [];
  const walk = (schema: Schema, prefix: string, required: readonly string[]) => {
    const properties = (schema.properties ?? {}) as Record<string, Schema>;
    for (const [key, child] of Object.entries(properties)) {
      visit(child, prefix === '' ? key : `${prefix}.${key}`, required.includes(key));
    }
    // `functions` and `implements` are maps: their values are documented under `<name>`.
    for (const child of Object.values((schema.patternProperties ?? {}) as Record<string, Schema>)) {
      if (prefix !== '' && Object.keys(child).length > 0) visit(child, `${prefix}.<name>`, false);
    }
  };
  const visit = (schema: Schema, path: string, required: boolean) => {
    out.push({
      path,
      type: typeOf(schema),
      required,
      runtimes: runtimes(path),
      description: typeof schema.description === 'string' ? schema.description : '',
      example: Array.isArray(schema.examples) ? schema.examples[0] : undefined,
    });
    if (schema.type === 'object') walk(schema, path, (schema.required ?? []) as string[]);
    if (schema.type === 'array' && (schema.items as Schema | undefined)?.type === 'object')
      walk(schema.items as Schema, `${path}[]`, ((schema.items as Schema).required ?? []) as string[]);
  };
  walk(manifestSchema as unknown as Schema, '', manifestSchema.required ?? []);
  return out;
}

/** A complete, valid manifest per runtime (the test validates each). */
export const runtimeExamples: Record<'node' | 'wasm' | 'exec', { note: string; manifest: object }> = {
  node: {
    note: 'A TypeScript plugin: `plugbay build` writes this from `definePlugin(...)`; write it by hand only for plain JS.',
    manifest: {
      name: 'greeter',
      version: '1.0.0',
      runtime: 'node',
      entry: 'dist/plugin.js',
      engines: { plugbay: '^0.1', node: '>=20' },
      functions: {
        greet: {
          description: 'Says hello.',
          input: { type: 'object', properties: { name: { type: 'string' } }, required: ['name'] },
          output: { type: 'object', properties: { message: { type: 'string' } }, required: ['message'] },
          timeoutMs: 2000,
          examples: [{ input: { name: 'Ada' }, output: { message: 'Hello, Ada!' } }],
        },
      },
      permissions: { env: ['TZ'] },
    },
  },
  wasm: {
    note:
      'An Extism-ABI module. `first_line` reads a mounted folder and answers plain text, so it is a bytes ' +
      'function; `slugify` takes and returns JSON.',
    manifest: {
      name: 'reader',
      version: '1.0.0',
      runtime: 'wasm',
      entry: 'plugin.wasm',
      functions: {
        first_line: {
          description: 'The first line of a file under /data, as text',
          input: {},
          output: {},
          codec: 'bytes',
          contentType: 'text/plain; charset=utf-8',
        },
        slugify: { input: { type: 'string' }, output: { type: 'string' } },
      },
      permissions: {
        fs: { mounts: [{ host: 'data', guest: '/data', readOnly: true }] },
        memoryMb: 64,
      },
    },
  },
  exec: {
    note: 'A native executable speaking plugbay.v1 over gRPC, launched go-plugin style (here a Go binary).',
    manifest: {
      name: 'hash',
      version: '1.0.0',
      runtime: 'exec',
      entry: 'bin/hash',
      protocol: 'plugbay',
      handshake: {
        magicCookieKey: 'PLUGBAY_PLUGIN_MAGIC_COOKIE',
        magicCookieValue: 'd7f0c3a6e2b94c1f8a5e6b7d9c0a1f2e',
        protocolVersion: 1,
      },
      functions: {
        digest: {
          input: { type: 'object', properties: { text: { type: 'string' } }, required: ['text'] },
          output: { type: 'object', properties: { hex: { type: 'string' } }, required: ['hex'] },
        },
        reverse: { input: {}, output: {}, codec: 'bytes' },
      },
      permissions: { memoryMb: 128 },
    },
  },
};

// dist/docs → packages/plugbay → packages → repository root.
const biome = fileURLToPath(new URL('../../../../node_modules/.bin/biome', import.meta.url));

/** JSON as `biome format` writes it (it formats the code blocks of the docs, and the page must stay as generated). */
function biomeJson(value: unknown): string {
  return execFileSync(biome, ['format', '--stdin-file-path=example.json'], {
    input: JSON.stringify(value, null, 2),
    encoding: 'utf8',
  }).trimEnd();
}

export function manifestReference(): string {
  const rows = manifestFields().map((f) => [
    code(f.path),
    f.type,
    f.required ? 'yes' : '',
    f.runtimes,
    f.description,
    f.example === undefined ? '' : code(JSON.stringify(f.example)),
  ]);
  return blocks(
    table(['Field', 'Type', 'Required', 'Runtimes', 'Meaning', 'Example'], rows),
    '### A complete manifest per runtime',
    ...Object.entries(runtimeExamples).flatMap(([runtime, { note, manifest }]) => [
      `#### ${code(runtime)}`,
      note,
      fence('json', biomeJson(manifest)),
    ]),
  );
}

export const manifestStart = '<!-- generated: manifest (npm run docs) -->';
export const manifestEnd = '<!-- end generated: manifest -->';

/** The page with its generated section replaced; throws when a marker is missing. */
export function withManifestSection(page: string, section: string): string {
  const start = page.indexOf(manifestStart);
  const end = page.indexOf(manifestEnd);
  if (start < 0 || end < start)
    throw new Error(`${manifestDoc}: the generated section's markers are missing`);
  return `${page.slice(0, start + manifestStart.length)}\n\n${section}\n\n${page.slice(end)}`;
}
